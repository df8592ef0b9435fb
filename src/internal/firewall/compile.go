package firewall

import (
	"net/netip"
	"slices"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// target is where an ACE is compiled to: one side of one device's chains
// in one table.
type target struct {
	fam  family
	sd   side
	dev  Device
	ctl  []config.Controller
	drop string // the device's drop counter
}

func (s *state) compile(fam family, st *devState, r mud.Rule, sd side) []rule {
	return target{fam: fam, sd: sd, dev: st.dev, ctl: s.controllers, drop: st.dropName()}.compile(r)
}

func (t target) bridge() bool { return t.fam == famBridge }

// fromDev: the chain judges the device's packets (forwarded, bridged or
// to the router), the peer being the destination; otherwise packets to
// the device, the peer being the source.
func (t target) fromDev() bool { return t.sd != sideIn }
func (t target) router() bool  { return t.sd == sideRouter }

// compile turns one ACE into rules for the target chain. An ACE whose
// peer the router cannot identify compiles to nothing, so it grants
// nothing; one rule per IP version and per peer alternative otherwise,
// each matching everything the ACE names.
func (t target) compile(r mud.Rule) []rule {
	if matchesAnything(r) && r.Accept {
		// Nothing left to match on (e.g. an eth match whose fields were
		// not understood): accepting everything is not what it meant.
		return nil
	}
	et, ok := t.etherType(r)
	if !ok {
		return nil
	}
	gate, ok := t.gate(r)
	if !ok {
		return nil
	}
	end := mkRule(ret)
	if !r.Accept {
		end = mkRule(drop, count(t.drop))
	}
	var out []rule
	for _, v := range t.versions(r) {
		m, ok := t.matches(r, v)
		if !ok {
			continue
		}
		for _, p := range t.peers(r, v) {
			out = append(out, mkRule(end.verdict, et, m, gate, p, end.terms))
		}
	}
	return out
}

// matchesAnything: the ACE names nothing to match on.
func matchesAnything(r mud.Rule) bool {
	return r.Family == 0 && r.Protocol < 0 && r.ICMP == nil && r.EtherType == 0 && r.Peer == mud.PeerAny &&
		!r.SrcNet.IsValid() && !r.DstNet.IsValid() && r.SrcDNS == "" && r.DstDNS == ""
}

// etherType matches the ACE's ethertype: itself on a bridge, its IP
// version in the inet table, where nothing else arrives (ok false: the
// rule would never match there).
func (t target) etherType(r mud.Rule) ([]term, bool) {
	switch {
	case r.EtherType == 0:
		return nil, true
	case t.bridge():
		return etherType(r.EtherType), true
	case r.EtherType == ethIPv4 && r.Family != 6:
		return ipFamily(t.fam, 4), true
	case r.EtherType == ethIPv6 && r.Family != 4:
		return ipFamily(t.fam, 6), true
	}
	return nil, false
}

// gate narrows a TCP ACE with a direction to the segments it allows in
// the target chain. The opening side needs nothing more. On the other
// side conntrack lets the replies through in the inet table, so the ACE
// needs no rule there (ok false); the bridge table has no conntrack, so it
// refuses only the opening segment.
func (t target) gate(r mud.Rule) ([]term, bool) {
	if r.Direction == "" || r.Protocol != protoTCP {
		return nil, true
	}
	if opens := (r.Direction == mud.FromDevice) == t.fromDev(); opens {
		return nil, true
	}
	if !t.bridge() {
		return nil, false
	}
	return notSynOnly(), true
}

// versions are the IP versions to compile the ACE for: its own, or both
// for a manufacturer or model match without one in the inet table, whose
// group sets hold addresses of one version each.
func (t target) versions(r mud.Rule) []int {
	switch r.Peer {
	case mud.PeerSameManufacturer, mud.PeerManufacturer, mud.PeerModel:
		if r.Family == 0 && !t.bridge() {
			return []int{4, 6}
		}
	}
	return []int{r.Family}
}

// peerIsSrc says the peer is the packets' source (in chains of what the
// device receives); in chains of what it sends, the destination.
func (t target) peerIsSrc() bool { return !t.fromDev() }

// matches are the ACE's matches other than its peer, for IP version v
// (0: none); ok false when they cannot match in the target chain.
func (t target) matches(r mud.Rule, v int) ([]term, bool) {
	var m []term
	if v != 0 {
		m = append(m, ipFamily(t.fam, v)...)
	}
	if r.Protocol >= 0 {
		m = append(m, l4proto(r.Protocol)...)
	}
	m = append(m, icmpMatch(r)...)
	// The device's own side of a network match and the peer's.
	peerNet, ownNet, peerDNS, ownDNS := r.DstNet, r.SrcNet, r.DstDNS, r.SrcDNS
	if !t.fromDev() {
		peerNet, ownNet, peerDNS, ownDNS = r.SrcNet, r.DstNet, r.SrcDNS, r.DstDNS
	}
	if ownDNS != "" && r.Accept {
		// A name for the device itself, which the router cannot check:
		// without it the rule would allow more than the entry.
		return nil, false
	}
	if peerNet.IsValid() {
		m = append(m, addrIn(peerNet, t.peerIsSrc())...)
	}
	if ownNet.IsValid() {
		m = append(m, addrIn(ownNet, !t.peerIsSrc())...)
	}
	if peerDNS != "" {
		if t.bridge() || t.router() || v == 0 {
			return nil, false // names stand for internet services, not neighbours or the router
		}
		m = append(m, addrInSet(v, t.peerIsSrc(), nameSet(peerDNS, v).name)...)
	}
	if p := r.SrcPorts; p != nil {
		m = append(m, port(p.Lo, p.Hi, p.Neq, true)...)
	}
	if p := r.DstPorts; p != nil {
		m = append(m, port(p.Lo, p.Hi, p.Neq, false)...)
	}
	return m, true
}

// peers lists the alternatives that match the ACE's peer, for IP version
// v: one rule each; none when the peer cannot be identified here.
func (t target) peers(r mud.Rule, v int) [][]term {
	switch r.Peer {
	case mud.PeerAny:
		return [][]term{nil}
	case mud.PeerSameManufacturer, mud.PeerManufacturer, mud.PeerModel:
		return t.groupPeer(r, v)
	case mud.PeerLocalNetworks:
		return t.localPeer()
	case mud.PeerController, mud.PeerMyController:
		return t.controllerPeers(r, v)
	}
	return nil
}

// groupPeer: devices of one manufacturer or model, by MAC on a bridge
// and by learned address when routed.
func (t target) groupPeer(r mud.Rule, v int) [][]term {
	g := peerGroup(t.dev, r)
	if g == "" || t.router() {
		return nil // the router is no maker's device
	}
	if t.bridge() {
		return [][]term{etherIn(t.peerIsSrc(), g)}
	}
	return [][]term{addrInSet(v, t.peerIsSrc(), groupIPSet(g, v).name)}
}

// localPeer: everything on a bridge is local, and so is the router;
// routed, the segments' interfaces.
func (t target) localPeer() [][]term {
	switch {
	case t.bridge(), t.router():
		return [][]term{nil}
	case t.fromDev():
		return [][]term{lookup(lOIFName, setLAN)}
	}
	return [][]term{lookup(lIIFName, setLAN)}
}

// icmpMatch narrows an ICMP or ICMPv6 rule to its message type and code
// (the first two bytes of the ICMP header).
func icmpMatch(r mud.Rule) []term {
	c := r.ICMP
	v := 4
	switch {
	case c == nil:
		return nil
	case r.Protocol == protoICMPv6:
		v = 6
	case r.Protocol != protoICMP:
		return nil
	}
	var m []term
	if c.Type >= 0 {
		m = append(m, term{kind: tICMPType, v: v, lo: uint16(c.Type), hi: uint16(c.Type)})
	}
	if c.Code >= 0 {
		m = append(m, icmpCode(v, uint8(c.Code))...)
	}
	return m
}

// controllerPeers: the registered classes (urn:ietf:params:mud:dns,
// ...:ntp) stand for the router's own DNS and NTP, which every device not
// in quarantine may use anyway; other controllers are those the
// administrator configured, by class or by the device's MUD URL, one
// rule per address. None configured: nothing granted. The gateway
// (urn:ietf:params:mud:gateway) is the router.
func (t target) controllerPeers(r mud.Rule, v int) [][]term {
	if r.Peer == mud.PeerController && r.PeerValue == mud.ControllerGateway {
		// The gateway is the router itself.
		if t.router() {
			return [][]term{nil}
		}
		return nil
	}
	if t.router() {
		return nil
	}
	var out [][]term
	for _, p := range controllers(t.ctl, t.dev, r) {
		av := ipVersion(p.Addr())
		if v != 0 && v != av {
			continue
		}
		a := addrIn(p, t.peerIsSrc())
		if v == 0 {
			a = terms(ipFamily(t.fam, av), a)
		}
		out = append(out, a)
	}
	return out
}

// controllers lists the addresses of the controllers a controller or
// my-controller match of device d names.
func controllers(ctl []config.Controller, d Device, r mud.Rule) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range ctl {
		if (r.Peer == mud.PeerController && slices.Contains(c.Classes, r.PeerValue)) ||
			(r.Peer == mud.PeerMyController && d.Policy != nil && slices.Contains(c.MUDURLs, d.Policy.URL)) {
			out = append(out, c.Addresses...)
		}
	}
	return out
}
