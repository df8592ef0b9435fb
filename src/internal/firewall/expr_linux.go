package firewall

import (
	"encoding/binary"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The rule model as netlink expressions. Register 1 is the only one used
// (and 2 for a learned MAC): each match loads and compares in turn.

// exprs are the rule's expressions in a table of family fam.
func (r rule) exprs(fam family) []expr.Any {
	var out []expr.Any
	for _, t := range r.terms {
		out = append(out, t.exprs(fam)...)
	}
	if v := r.verdict.expr(); v != nil {
		out = append(out, v)
	}
	return out
}

func (v verdict) expr() expr.Any {
	switch v.kind {
	case vAccept:
		return &expr.Verdict{Kind: expr.VerdictAccept}
	case vDrop:
		return &expr.Verdict{Kind: expr.VerdictDrop}
	case vReturn:
		return &expr.Verdict{Kind: expr.VerdictReturn}
	case vJump:
		return &expr.Verdict{Kind: expr.VerdictJump, Chain: v.chain}
	case vGoto:
		return &expr.Verdict{Kind: expr.VerdictGoto, Chain: v.chain}
	}
	return nil
}

func (t term) exprs(fam family) []expr.Any {
	if fam != famBridge && (t.load == lEther && (t.kind == tLookup || t.kind == tVmap) || t.kind == tLearn) {
		// A MAC outside the bridge table: only Ethernet interfaces have
		// one, and nft prints "ether saddr" only after this check (as it
		// adds it when it reads "ether saddr" there).
		return append([]expr.Any{meta(expr.MetaKeyIIFTYPE), cmpEq(binary.NativeEndian.AppendUint16(nil, unix.ARPHRD_ETHER))}, t.bare()...)
	}
	return t.bare()
}

// bare are the term's expressions without what it depends on.
func (t term) bare() []expr.Any {
	switch t.kind {
	case tNFProto:
		p := byte(unix.NFPROTO_IPV4)
		if t.v == 6 {
			p = unix.NFPROTO_IPV6
		}
		return []expr.Any{meta(expr.MetaKeyNFPROTO), cmpEq([]byte{p})}
	case tEtherType:
		return []expr.Any{meta(expr.MetaKeyPROTOCOL), cmpEq(be16(uint16(t.num)))}
	case tL4Proto:
		return []expr.Any{meta(expr.MetaKeyL4PROTO), cmpEq([]byte{byte(t.num)})}
	case tAddr:
		return addrExprs(t)
	case tPort:
		return portExprs(t)
	case tICMPType, tICMPCode:
		off := uint32(0)
		if t.kind == tICMPCode {
			off = 1
		}
		ld := payload(expr.PayloadBaseTransportHeader, off, 1)
		if t.lo == t.hi {
			return []expr.Any{ld, cmpEq([]byte{byte(t.lo)})}
		}
		return []expr.Any{ld, &expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: []byte{byte(t.lo)}, ToData: []byte{byte(t.hi)}}}
	case tLookup:
		return []expr.Any{t.loadExpr(), &expr.Lookup{SourceRegister: 1, SetName: t.set, Invert: t.invert}}
	case tVmap:
		return []expr.Any{t.loadExpr(), &expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: t.set}}
	case tCtState:
		return []expr.Any{&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binary.NativeEndian.AppendUint32(nil, t.num), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)}}
	case tNotSynOnly:
		// SYN without ACK is a connection opening.
		return []expr.Any{payload(expr.PayloadBaseTransportHeader, 13, 1),
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x12}, Xor: []byte{0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0x02}}}
	case tFibLocal:
		return []expr.Any{&expr.Fib{Register: 1, FlagDADDR: true, FlagIIF: true, ResultADDRTYPE: true},
			cmpEq(binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL))}
	case tLearn:
		return []expr.Any{addrLoad(t.v, true),
			&expr.Payload{DestRegister: 2, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
			&expr.Dynset{SrcRegKey: 1, SrcRegData: 2, SetName: t.set, Operation: uint32(unix.NFT_DYNSET_OP_UPDATE)}}
	case tCounter:
		if t.set == "" {
			return []expr.Any{&expr.Counter{}}
		}
		return []expr.Any{&expr.Objref{Type: unix.NFT_OBJECT_COUNTER, Name: t.set}}
	case tPktTypeNot:
		return []expr.Any{meta(expr.MetaKeyPKTTYPE), &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{byte(t.num)}}}
	case tLimit:
		return []expr.Any{&expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(t.num), Unit: expr.LimitTimeSecond, Burst: uint32(t.lo)}}
	case tLog:
		l := &expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: uint16(t.num), Data: []byte(t.set)}
		if t.lo > 0 {
			l.Key |= 1 << unix.NFTA_LOG_SNAPLEN
			l.Snaplen = uint32(t.lo)
		}
		return []expr.Any{l}
	}
	panic("firewall: unknown term")
}

// loadExpr loads the key of a lookup or verdict map into register 1.
func (t term) loadExpr() expr.Any {
	switch t.load {
	case lIIFName:
		return meta(expr.MetaKeyIIFNAME)
	case lOIFName:
		return meta(expr.MetaKeyOIFNAME)
	case lIBRName:
		return meta(expr.MetaKeyBRIIIFNAME)
	case lEther:
		if t.src {
			return payload(expr.PayloadBaseLLHeader, 6, 6)
		}
		return payload(expr.PayloadBaseLLHeader, 0, 6)
	}
	return addrLoad(t.v, t.src)
}

// addrExprs compares an address with a prefix: with a mask unless it is
// a whole address.
func addrExprs(t term) []expr.Any {
	a := t.pfx.Addr().AsSlice()
	ld := addrLoad(t.v, t.src)
	if t.pfx.Bits() == t.pfx.Addr().BitLen() {
		return []expr.Any{ld, cmpEq(a)}
	}
	bits := t.pfx.Bits()
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
	return []expr.Any{ld,
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(len(a)), Mask: mask, Xor: make([]byte, len(a))},
		cmpEq(a)}
}

func portExprs(t term) []expr.Any {
	off := uint32(2)
	if t.src {
		off = 0
	}
	ld := payload(expr.PayloadBaseTransportHeader, off, 2)
	switch {
	case t.neq:
		return []expr.Any{ld, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: be16(t.lo)}}
	case t.lo == t.hi:
		return []expr.Any{ld, cmpEq(be16(t.lo))}
	}
	return []expr.Any{ld, &expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(t.lo), ToData: be16(t.hi)}}
}

func cmpEq(data []byte) expr.Any {
	return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data}
}

func meta(k expr.MetaKey) expr.Any { return &expr.Meta{Key: k, Register: 1} }

func payload(base expr.PayloadBase, off, n uint32) expr.Any {
	return &expr.Payload{DestRegister: 1, Base: base, Offset: off, Len: n}
}

// addrLoad loads the source (src) or destination address of version v.
func addrLoad(v int, src bool) expr.Any {
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

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
