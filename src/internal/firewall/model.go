package firewall

import (
	"net/netip"
)

// The rule model: what the planner decides, in terms both the applier
// (netlink expressions, expr_linux.go) and the renderer (nft syntax,
// nft.go) translate, so the rules trustjoin installs and the rules it
// shows cannot differ. A rule is a sequence of terms, each a match or a
// statement, and a verdict.

// family is the family of one of trustjoin's two tables.
type family byte

const (
	famINet   family = 1 // routed traffic and the router itself
	famBridge family = 7 // traffic between ports of one bridge
)

var families = []family{famINet, famBridge}

func (f family) String() string {
	if f == famBridge {
		return "bridge"
	}
	return "inet"
}

// Protocol numbers and ethertypes the planner uses (golang.org/x/sys/unix
// has them only on Linux; the planner runs anywhere).
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58

	ethIPv4 = 0x0800
	ethARP  = 0x0806
	ethIPv6 = 0x86dd
)

// Conntrack state bits (ct state).
const (
	ctEstablished uint32 = 1 << 1
	ctRelated     uint32 = 1 << 2
	ctNew         uint32 = 1 << 3
)

type termKind byte

const (
	tNFProto    termKind = iota + 1 // meta nfproto ipv4|ipv6 (v)
	tEtherType                      // meta protocol (num)
	tL4Proto                        // meta l4proto (num)
	tAddr                           // ip/ip6 saddr/daddr in a prefix (v, src, pfx)
	tPort                           // transport source/destination port (src, lo, hi, neq)
	tICMPType                       // ICMP or ICMPv6 type in lo..hi (v)
	tICMPCode                       // ICMP or ICMPv6 code lo (v)
	tLookup                         // a loaded key in a set (load, set, invert)
	tVmap                           // a loaded key looked up in a verdict map (load, set)
	tCtState                        // any of the conntrack state bits (num)
	tNotSynOnly                     // a TCP segment other than a connection opening
	tFibLocal                       // addressed to the router on the interface it came in on
	tLearn                          // remember source address -> source MAC (v)
	tCounter                        // count, in the named counter (set) or in one of its own
	tPktTypeNot                     // the link-layer packet type is not num (meta pkttype)
	tLimit                          // at most num packets a second, in bursts of lo; what is over goes on to the next rule
	tLog                            // copy the packet to NFLOG group num with prefix set, at most lo bytes of it (0: all)
)

// loadKind says what a set lookup or verdict map looks up.
type loadKind byte

const (
	lIIFName loadKind = iota + 1 // input interface
	lOIFName                     // output interface
	lIBRName                     // bridge of the input port (meta ibrname)
	lEther                       // ether source (src) or destination address
	lAddr                        // IP source (src) or destination address of family v
)

// term is one match or statement of a rule; which fields count depends
// on kind.
type term struct {
	kind   termKind
	v      int  // IP version: 4 or 6
	src    bool // source (address, port, ether) rather than destination
	neq    bool // a port: anything but lo
	invert bool // a lookup: not in the set
	num    uint32
	lo, hi uint16
	pfx    netip.Prefix
	load   loadKind
	set    string // set, map or counter name
}

type verdictKind byte

const (
	vNone verdictKind = iota // the rule ends in a verdict map
	vAccept
	vDrop
	vReturn
	vJump
	vGoto
)

// verdict ends a rule.
type verdict struct {
	kind  verdictKind
	chain string
}

// rule is one rule: terms in order, then a verdict.
type rule struct {
	terms   []term
	verdict verdict
}

func terms(parts ...[]term) []term {
	var out []term
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func mkRule(v verdict, parts ...[]term) rule { return rule{terms: terms(parts...), verdict: v} }

var (
	accept = verdict{kind: vAccept}
	drop   = verdict{kind: vDrop}
	ret    = verdict{kind: vReturn}
)

func jumpTo(chain string) verdict { return verdict{kind: vJump, chain: chain} }
func gotoTo(chain string) verdict { return verdict{kind: vGoto, chain: chain} }

// Builders, each one match or statement.

// ipFamily matches IP version v: the nfproto in the inet table, the
// ethertype in the bridge table.
func ipFamily(fam family, v int) []term {
	if fam == famBridge {
		if v == 6 {
			return []term{{kind: tEtherType, num: ethIPv6}}
		}
		return []term{{kind: tEtherType, num: ethIPv4}}
	}
	return []term{{kind: tNFProto, v: v}}
}

func etherType(t int) []term { return []term{{kind: tEtherType, num: uint32(t)}} }

func l4proto(p int) []term { return []term{{kind: tL4Proto, num: uint32(p)}} }

// addrIn matches the source (src) or destination address against p.
func addrIn(p netip.Prefix, src bool) []term {
	p = p.Masked()
	return []term{{kind: tAddr, v: ipVersion(p.Addr()), src: src, pfx: p}}
}

// addrIs matches the source (src) or destination address a.
func addrIs(a netip.Addr, src bool) []term {
	return addrIn(netip.PrefixFrom(a, a.BitLen()), src)
}

func ipVersion(a netip.Addr) int {
	if a.Is6() && !a.Is4In6() {
		return 6
	}
	return 4
}

// port matches the transport source (src) or destination port.
func port(lo, hi uint16, neq, src bool) []term {
	if neq || hi < lo {
		hi = lo
	}
	return []term{{kind: tPort, src: src, lo: lo, hi: hi, neq: neq}}
}

func dport(p int) []term { return port(uint16(p), uint16(p), false, false) }

// udpPort and tcpPort: the protocol and the destination port.
func udpPort(lo, hi int) []term {
	return terms(l4proto(protoUDP), port(uint16(lo), uint16(hi), false, false))
}
func tcpPort(p int) []term { return terms(l4proto(protoTCP), dport(p)) }

// icmpCode matches the code of ICMP (v 4) or ICMPv6 messages.
func icmpCode(v int, code uint8) []term {
	return []term{{kind: tICMPCode, v: v, lo: uint16(code), hi: uint16(code)}}
}

// icmpType matches ICMP (v 4) or ICMPv6 messages of types lo..hi,
// protocol included.
func icmpType(v int, lo, hi uint8) []term {
	p := protoICMP
	if v == 6 {
		p = protoICMPv6
	}
	return terms(l4proto(p), []term{{kind: tICMPType, v: v, lo: uint16(lo), hi: uint16(hi)}})
}

func lookup(l loadKind, set string) []term { return []term{{kind: tLookup, load: l, set: set}} }

func notIn(l loadKind, set string) []term {
	return []term{{kind: tLookup, load: l, set: set, invert: true}}
}

// etherIn and addrInSet look the source (src) or destination MAC or
// address of version v up in a set.
func etherIn(src bool, set string) []term {
	return []term{{kind: tLookup, load: lEther, src: src, set: set}}
}
func addrInSet(v int, src bool, set string) []term {
	return []term{{kind: tLookup, load: lAddr, v: v, src: src, set: set}}
}

func vmap(l loadKind, set string) []term { return []term{{kind: tVmap, load: l, set: set}} }

func etherVmap(src bool, set string) []term {
	return []term{{kind: tVmap, load: lEther, src: src, set: set}}
}
func addrVmap(v int, src bool, set string) []term {
	return []term{{kind: tVmap, load: lAddr, v: v, src: src, set: set}}
}

func ctState(bits uint32) []term { return []term{{kind: tCtState, num: bits}} }

func notSynOnly() []term { return []term{{kind: tNotSynOnly}} }

func fibLocal() []term { return []term{{kind: tFibLocal}} }

// learn records "source address -> source MAC" of version v in the
// learned map, family match included.
func learn(fam family, v int) []term {
	return terms(ipFamily(fam, v), []term{{kind: tLearn, v: v, set: learnedMapName(v)}})
}

// count counts in a named counter; anonymous counts in one of the rule's
// own.
func count(name string) []term { return []term{{kind: tCounter, set: name}} }

func anonymousCounter() []term { return []term{{kind: tCounter}} }

// Link-layer packet types (meta pkttype).
const (
	pktBroadcast = 1
	pktMulticast = 2
)

// unicast matches packets sent to one host: what a device sends to
// every neighbour (mDNS, SSDP, MLD) is no attempt at a forbidden
// destination.
func unicast() []term {
	return []term{{kind: tPktTypeNot, num: pktBroadcast}, {kind: tPktTypeNot, num: pktMulticast}}
}

// logged copies packets to NFLOG group g with prefix, at most rate a
// second (bursts of twice that), and at most snap bytes of each (0: the
// whole packet).
func logged(g uint16, prefix string, rate int, snap uint16) []term {
	return []term{{kind: tLimit, num: uint32(rate), lo: uint16(2 * rate)}, {kind: tLog, num: uint32(g), set: prefix, lo: snap}}
}
