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
	add := func(what string, alts ...[]term) {
		n := need{what: what}
		for _, x := range alts {
			n.any = append(n.any, x...)
		}
		out = append(out, n)
	}
	t.headerNeeds(r, add)
	t.nameNeeds(r, v, add)
	if r.Direction != "" && r.Protocol == protoTCP && (r.Direction == mud.FromDevice) != t.fromDev() {
		if t.bridge() {
			add("who opens the connection", notSynOnly())
		} else {
			add("who opens the connection (conntrack lets the other side's replies through)")
		}
	}
	t.peerNeeds(r, v, add)
	return out
}

// headerNeeds: what the ACE matches in the packet's headers.
func (t target) headerNeeds(r mud.Rule, add func(string, ...[]term)) {
	if r.Family != 0 {
		add("its IP version", ipFamily(t.fam, r.Family))
	}
	switch {
	case r.EtherType == 0:
	case t.bridge():
		add("its ethertype", etherType(r.EtherType))
	case r.EtherType == ethIPv4:
		add("its ethertype", ipFamily(t.fam, 4))
	case r.EtherType == ethIPv6:
		add("its ethertype", ipFamily(t.fam, 6))
	default:
		add("its ethertype (never seen in the inet table)")
	}
	if r.Protocol >= 0 {
		add("its protocol", l4proto(r.Protocol))
	}
	for _, m := range icmpMatch(r) {
		add("its ICMP "+map[termKind]string{tICMPType: "type", tICMPCode: "code"}[m.kind], []term{m})
	}
	if r.ICMP != nil && r.Protocol != protoICMP && r.Protocol != protoICMPv6 {
		add("its ICMP type and code (without the ICMP protocol)")
	}
	if r.SrcNet.IsValid() {
		add("its source network", addrIn(r.SrcNet, true))
	}
	if r.DstNet.IsValid() {
		add("its destination network", addrIn(r.DstNet, false))
	}
	if p := r.SrcPorts; p != nil {
		add("its source ports", port(p.Lo, p.Hi, p.Neq, true))
	}
	if p := r.DstPorts; p != nil {
		add("its destination ports", port(p.Lo, p.Hi, p.Neq, false))
	}
}

// nameNeeds: the ACE's DNS names, the peer's and (which no rule can
// check) the device's own.
func (t target) nameNeeds(r mud.Rule, v int, add func(string, ...[]term)) {
	peerDNS, ownDNS := r.DstDNS, r.SrcDNS
	if !t.fromDev() {
		peerDNS, ownDNS = r.SrcDNS, r.DstDNS
	}
	switch {
	case peerDNS == "":
	case v == 0:
		add("its DNS name")
	default:
		add("its DNS name", addrInSet(v, t.peerIsSrc(), nameSet(peerDNS, v).name))
	}
	if ownDNS != "" {
		add("the DNS name it gives the device")
	}
}

// peerNeeds: the ACE's peer.
func (t target) peerNeeds(r mud.Rule, v int, add func(string, ...[]term)) {
	switch r.Peer {
	case mud.PeerSameManufacturer, mud.PeerManufacturer, mud.PeerModel:
		g := peerGroup(t.dev, r)
		switch {
		case g == "" || t.router():
			add("its peer's maker")
		case t.bridge():
			add("its peer's maker", etherIn(t.peerIsSrc(), g))
		default:
			add("its peer's maker", addrInSet(v, t.peerIsSrc(), groupIPSet(g, v).name))
		}
	case mud.PeerLocalNetworks:
		if !t.bridge() && !t.router() {
			add("its peer on the local networks", t.localPeer()...)
		}
	case mud.PeerController, mud.PeerMyController:
		switch {
		case r.Peer == mud.PeerController && r.PeerValue == mud.ControllerGateway:
			if !t.router() {
				add("its peer, the router")
			}
		case t.router():
			add("its controller")
		default:
			var alts [][]term
			for _, p := range controllers(t.ctl, t.dev, r) {
				alts = append(alts, addrIn(p, t.peerIsSrc()))
			}
			add("its controller", alts...)
		}
	}
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
