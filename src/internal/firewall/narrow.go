package firewall

import (
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// need is one match of an ACE, as the terms a rule may hold for it:
// none means no rule can match as narrowly (the ACE must compile to
// nothing here, if it accepts).
type need struct {
	what string
	any  []term
}

func (n need) metBy(t term) bool {
	for _, a := range n.any {
		if a == t {
			return true
		}
	}
	return false
}

// needs lists the matches a rule for ACE r in the target chain must hold,
// for IP version v (0: none).
func (t target) needs(r mud.Rule, v int) []need {
	var out []need
	one := func(what string, ts ...[]term) {
		n := need{what: what}
		for _, x := range ts {
			n.any = append(n.any, x...)
		}
		out = append(out, n)
	}
	if r.Family != 0 {
		one("its IP version", ipFamily(t.fam, r.Family))
	}
	if r.EtherType != 0 {
		switch {
		case t.bridge():
			one("its ethertype", etherType(r.EtherType))
		case r.EtherType == ethIPv4:
			one("its ethertype", ipFamily(t.fam, 4))
		case r.EtherType == ethIPv6:
			one("its ethertype", ipFamily(t.fam, 6))
		default:
			one("its ethertype (never seen in the inet table)")
		}
	}
	if r.Protocol >= 0 {
		one("its protocol", l4proto(r.Protocol))
	}
	for _, m := range icmpMatch(r) {
		if m.kind == tICMPType {
			one("its ICMP type", []term{m})
		} else {
			one("its ICMP code", []term{m})
		}
	}
	if r.ICMP != nil && r.Protocol != protoICMP && r.Protocol != protoICMPv6 {
		one("its ICMP type and code (without the ICMP protocol)")
	}
	if r.SrcNet.IsValid() {
		one("its source network", addrIn(r.SrcNet, true))
	}
	if r.DstNet.IsValid() {
		one("its destination network", addrIn(r.DstNet, false))
	}
	peerDNS, ownDNS := r.DstDNS, r.SrcDNS
	if !t.fromDev() {
		peerDNS, ownDNS = r.SrcDNS, r.DstDNS
	}
	if peerDNS != "" {
		if v == 0 {
			one("its DNS name")
		} else {
			one("its DNS name", addrInSet(v, t.peerIsSrc(), nameSet(peerDNS, v).name))
		}
	}
	if ownDNS != "" {
		one("the DNS name it gives the device")
	}
	if p := r.SrcPorts; p != nil {
		one("its source ports", port(p.Lo, p.Hi, p.Neq, true))
	}
	if p := r.DstPorts; p != nil {
		one("its destination ports", port(p.Lo, p.Hi, p.Neq, false))
	}
	if r.Direction != "" && r.Protocol == protoTCP && (r.Direction == mud.FromDevice) != t.fromDev() {
		if t.bridge() {
			one("who opens the connection", notSynOnly())
		} else {
			one("who opens the connection (conntrack lets the other side's replies through)")
		}
	}
	switch r.Peer {
	case mud.PeerSameManufacturer, mud.PeerManufacturer, mud.PeerModel:
		g := peerGroup(t.dev, r)
		switch {
		case g == "" || t.router():
			one("its peer's maker")
		case t.bridge():
			one("its peer's maker", etherIn(t.peerIsSrc(), g))
		default:
			one("its peer's maker", addrInSet(v, t.peerIsSrc(), groupIPSet(g, v).name))
		}
	case mud.PeerLocalNetworks:
		if !t.bridge() && !t.router() {
			one("its peer on the local networks", t.localPeer()...)
		}
	case mud.PeerController, mud.PeerMyController:
		if r.Peer == mud.PeerController && r.PeerValue == mud.ControllerGateway {
			if !t.router() {
				one("its peer, the router")
			}
			break
		}
		var alts [][]term
		for _, p := range controllers(t.ctl, t.dev, r) {
			alts = append(alts, addrIn(p, t.peerIsSrc()))
		}
		if t.router() {
			alts = nil
		}
		one("its controller", alts...)
	}
	return out
}

// broader says how rule x, compiled from ACE r for the target chain,
// matches more than r (r accepts) or less (r drops); "" when it does
// not.
func (t target) broader(r mud.Rule, x rule) string {
	v := 0
	for _, m := range x.terms {
		if m.kind == tNFProto || (m.kind == tEtherType && (m.num == ethIPv4 || m.num == ethIPv6)) {
			v = 4
			if m.kind == tNFProto && m.v == 6 || m.num == ethIPv6 {
				v = 6
			}
		}
	}
	needs := t.needs(r, v)
	if r.Accept {
		if x.verdict != ret {
			return "does not return to the base chain as an accept must"
		}
		for _, n := range needs {
			if !anyTerm(x.terms, n.metBy) {
				return "matches more than the entry: it lacks " + n.what
			}
		}
		return ""
	}
	if x.verdict != drop {
		return "does not drop as the entry does"
	}
	for _, m := range x.terms {
		switch {
		case m.kind == tCounter:
		case (m.kind == tNFProto || m.kind == tEtherType) && r.EtherType == 0 && r.Family == 0:
			// An IP version the entry leaves open: the rules of both
			// versions are there, or the address matched is of this one.
		case !anyNeed(needs, m):
			return "matches less than the entry: " + m.nft(t.fam) + " is not the entry's"
		}
	}
	return ""
}

func anyTerm(ts []term, f func(term) bool) bool {
	for _, t := range ts {
		if f(t) {
			return true
		}
	}
	return false
}

func anyNeed(ns []need, t term) bool {
	for _, n := range ns {
		if n.metBy(t) {
			return true
		}
	}
	return false
}
