package behaviour

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/net/dns/dnsmessage"
)

// header is what the recorder reads of a logged packet: addresses,
// protocol, and the destination port (TCP, UDP, SCTP, UDP-Lite) or, for
// ICMP and ICMPv6, the message type.
type header struct {
	src, dst netip.Addr
	proto    uint8
	port     uint16
	// srcPort is the source port, for DNS answers (53).
	srcPort uint16
	// l4 is the transport payload, for DNS answers.
	l4 []byte
}

// IPv6 extension headers the parser steps over to reach the transport.
var ipv6Ext = map[uint8]bool{0: true, 43: true, 60: true}

func parseIP(b []byte) (header, bool) {
	var h header
	if len(b) < 1 {
		return h, false
	}
	var rest []byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return h, false
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return h, false
		}
		h.src = netip.AddrFrom4([4]byte(b[12:16]))
		h.dst = netip.AddrFrom4([4]byte(b[16:20]))
		h.proto = b[9]
		// A fragment other than the first holds no transport header.
		if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
			return h, true
		}
		rest = b[ihl:]
	case 6:
		if len(b) < 40 {
			return h, false
		}
		h.src = netip.AddrFrom16([16]byte(b[8:24]))
		h.dst = netip.AddrFrom16([16]byte(b[24:40]))
		next, off := b[6], 40
		for i := 0; i < 8 && ipv6Ext[next]; i++ {
			if len(b) < off+8 {
				return h, true
			}
			next, off = b[off], off+8+int(b[off+1])*8
		}
		if next == 44 { // fragment header: the transport is in the first only
			if len(b) < off+8 {
				return h, true
			}
			if binary.BigEndian.Uint16(b[off+2:off+4])&0xfff8 != 0 {
				h.proto = b[off]
				return h, true
			}
			next, off = b[off], off+8
		}
		h.proto = next
		if len(b) < off {
			return h, true
		}
		rest = b[off:]
	default:
		return h, false
	}
	switch h.proto {
	case 6, 17, 132, 136:
		if len(rest) >= 4 {
			h.srcPort = binary.BigEndian.Uint16(rest[0:2])
			h.port = binary.BigEndian.Uint16(rest[2:4])
		}
		if h.proto == 17 && len(rest) >= 8 {
			h.l4 = rest[8:]
		}
	case 1, 58:
		if len(rest) >= 1 {
			h.port = uint16(rest[0])
		}
	}
	return h, true
}

// answer is one name's addresses from a DNS answer.
type answer struct {
	name  string
	addrs []netip.Addr
	ttl   uint32
}

// parseDNS reads a DNS response: the name asked and the addresses it
// resolves to, following CNAMEs, so an address is known by the name the
// device asked for (the one its MUD file or learned profile would name).
func parseDNS(b []byte) (answer, bool) {
	var p dnsmessage.Parser
	hdr, err := p.Start(b)
	if err != nil || !hdr.Response || hdr.RCode != dnsmessage.RCodeSuccess {
		return answer{}, false
	}
	q, err := p.Question()
	if err != nil {
		return answer{}, false
	}
	if err := p.SkipAllQuestions(); err != nil {
		return answer{}, false
	}
	a := answer{name: trimDot(q.Name.String()), ttl: ^uint32(0)}
	for {
		rh, err := p.AnswerHeader()
		if err != nil {
			break
		}
		switch rh.Type {
		case dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return a, len(a.addrs) > 0
			}
			a.addrs = append(a.addrs, netip.AddrFrom4(r.A))
		case dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return a, len(a.addrs) > 0
			}
			a.addrs = append(a.addrs, netip.AddrFrom16(r.AAAA))
		default:
			if err := p.SkipAnswer(); err != nil {
				return a, len(a.addrs) > 0
			}
			continue
		}
		a.ttl = min(a.ttl, rh.TTL)
	}
	return a, len(a.addrs) > 0
}

func trimDot(s string) string {
	if len(s) > 1 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}
