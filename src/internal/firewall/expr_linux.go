package firewall

import (
	"encoding/binary"
	"hash/fnv"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Small builders for the expressions the compiler needs; register 1 is
// the only one used, each match loads and compares in turn.

type exprs = []expr.Any

func cmpEq(data []byte) expr.Any {
	return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data}
}

func metaLoad(k expr.MetaKey) expr.Any { return &expr.Meta{Key: k, Register: 1} }

func metaEq(k expr.MetaKey, data []byte) exprs {
	return exprs{metaLoad(k), cmpEq(data)}
}

func payload(base expr.PayloadBase, off, n uint32) expr.Any {
	return &expr.Payload{DestRegister: 1, Base: base, Offset: off, Len: n}
}

func lookup(set string) expr.Any { return &expr.Lookup{SourceRegister: 1, SetName: set} }

func vmap(set string) expr.Any {
	return &expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: set}
}

func ifname(s string) []byte {
	b := make([]byte, 16)
	copy(b, s)
	return b
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// nfproto matches the IP family in the inet table, the ethertype in the
// bridge table.
func family(fam nftables.TableFamily, v int) exprs {
	if fam == nftables.TableFamilyBridge {
		if v == 6 {
			return metaEq(expr.MetaKeyPROTOCOL, be16(unix.ETH_P_IPV6))
		}
		return metaEq(expr.MetaKeyPROTOCOL, be16(unix.ETH_P_IP))
	}
	if v == 6 {
		return metaEq(expr.MetaKeyNFPROTO, []byte{unix.NFPROTO_IPV6})
	}
	return metaEq(expr.MetaKeyNFPROTO, []byte{unix.NFPROTO_IPV4})
}

func l4proto(p int) exprs { return metaEq(expr.MetaKeyL4PROTO, []byte{byte(p)}) }

// addr loads the source (src) or destination address of family v.
func addr(v int, src bool) expr.Any {
	if v == 6 {
		if src {
			return payload(expr.PayloadBaseNetworkHeader, 8, 16)
		}
		return payload(expr.PayloadBaseNetworkHeader, 24, 16)
	}
	if src {
		return payload(expr.PayloadBaseNetworkHeader, 12, 4)
	}
	return payload(expr.PayloadBaseNetworkHeader, 16, 4)
}

func ether(src bool) expr.Any {
	if src {
		return payload(expr.PayloadBaseLLHeader, 6, 6)
	}
	return payload(expr.PayloadBaseLLHeader, 0, 6)
}

func prefixMatch(p netip.Prefix, src bool) exprs {
	v := 4
	if p.Addr().Is6() && !p.Addr().Is4In6() {
		v = 6
	}
	a := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	mask := make([]byte, len(a))
	for i := range mask {
		switch {
		case bits >= 8:
			mask[i] = 0xff
			bits -= 8
		case bits > 0:
			mask[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	return exprs{addr(v, src),
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(len(a)), Mask: mask, Xor: make([]byte, len(a))},
		cmpEq(a)}
}

// ports matches the transport source (src) or destination port.
func portMatch(lo, hi uint16, neq, src bool) exprs {
	off := uint32(2)
	if src {
		off = 0
	}
	ld := payload(expr.PayloadBaseTransportHeader, off, 2)
	switch {
	case neq:
		return exprs{ld, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: be16(lo)}}
	case lo == hi:
		return exprs{ld, cmpEq(be16(lo))}
	default:
		return exprs{ld, &expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(lo), ToData: be16(hi)}}
	}
}

// ctState matches any of the given conntrack state bits.
func ctState(bits uint32) exprs {
	return exprs{&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)}}
}

// notSynOnly matches TCP segments other than a connection opening (SYN
// without ACK): the stateless form of direction-initiated.
func notSynOnly() exprs {
	return exprs{payload(expr.PayloadBaseTransportHeader, 13, 1),
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x12}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0x02}}}
}

func counter(name string) expr.Any {
	return &expr.Objref{Type: unix.NFT_OBJECT_COUNTER, Name: name}
}

func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

func jump(chain string) *expr.Verdict { return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain} }

// short names a set after a string too long or too odd for a set name.
func short(prefix, s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return prefix + hex8(h.Sum32())
}

func hex8(v uint32) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b)
}
