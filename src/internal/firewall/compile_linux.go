package firewall

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// Names of the objects in trustjoin's tables.
const (
	setDevOut   = "dev_out"   // MAC -> jump to the device's "from" chain
	setDevIn    = "dev_in"    // MAC -> jump to the device's "to" chain (bridge)
	setDevLocal = "dev_local" // MAC -> jump to the device's "to the router" chain (inet input)
	setIP4Dev   = "ip4dev"    // learned IPv4 address -> jump to its device's "to" chain
	setIP6Dev   = "ip6dev"    // learned IPv6 address -> jump to its device's "to" chain
	setIP4MAC   = "ip4mac"    // learned IPv4 address -> MAC
	setIP6MAC   = "ip6mac"    // learned IPv6 address -> MAC
	setLAN      = "lan"       // every segment interface
	setSegFwd   = "seg_fwd"   // ingress interface -> segment chain (inet forward)
	setQuar     = "quar"      // every interface of a quarantine segment
	setQuarMAC  = "quar_mac"  // every MAC of a quarantined device (bridge)
	setSegBr    = "seg_br"    // bridge -> segment chain (bridge forward)
)

func groupSet(kind mud.PeerKind, value string) string {
	if kind == mud.PeerModel {
		return short("gm", value)
	}
	return short("gf", strings.ToLower(value))
}

// groupIPSet is the set of a group's members' learned addresses.
func groupIPSet(t *nftables.Table, g string, v int) *nftables.Set {
	if v == 6 {
		return &nftables.Set{Table: t, Name: g + "6", KeyType: nftables.TypeIP6Addr}
	}
	return &nftables.Set{Table: t, Name: g + "4", KeyType: nftables.TypeIPAddr}
}

func nameSet(name string, v int) string {
	if v == 6 {
		return short("n", strings.ToLower(name)) + "6"
	}
	return short("n", strings.ToLower(name)) + "4"
}

type rules = [][]expr.Any

// devChains builds the rules of a device's chains in one table, by side.
func (e *Enforcer) devChains(fam nftables.TableFamily, st *devState) map[side]rules {
	drop := counter(st.dropName())
	ret := func(m exprs) []expr.Any { return append(append(exprs{}, m...), verdict(expr.VerdictReturn)) }
	dropAll := exprs{drop, verdict(expr.VerdictDrop)}
	bridge := fam == nftables.TableFamilyBridge
	d := st.dev
	ch := map[side]rules{}
	for _, sd := range sides(fam) {
		ch[sd] = rules{{counter(st.allName())}}
	}
	all := func(r []expr.Any) map[side]rules {
		for _, sd := range sides(fam) {
			ch[sd] = append(ch[sd], r)
		}
		return ch
	}

	if !bridge {
		// Learn the device's addresses so traffic to it finds its chain
		// (the input chain learns from what it sends the router).
		ch[sideOut] = append(ch[sideOut], learn(fam, 4), learn(fam, 6))
	}
	if e.quarantined(d) {
		return all(dropAll)
	}
	// On a bridge, ARP, neighbour discovery and DHCP between neighbours
	// never get here: the base chain allows them for everyone.
	if !bridge {
		// Established and related packets never get here (the base
		// chains accept them first; conntrack is flushed whenever a
		// device's confinement changes), nor do DHCP, DNS and neighbour
		// discovery to the router (the input chain accepts them for
		// everyone, quarantined or not). NTP, the router's too, is
		// allowed unless quarantined.
		ch[sideRouter] = append(ch[sideRouter], ret(concat(l4proto(unix.IPPROTO_UDP), portMatch(123, 123, false, false))))
	}
	if d.Policy == nil || d.Policy.NamesNoACL {
		// A file naming no access list says nothing about the device's
		// traffic: the segment's default holds (issue 16).
		return all(ret(nil))
	}
	for _, r := range d.Policy.FromDevice {
		ch[sideOut] = append(ch[sideOut], e.compile(fam, st, r, sideOut)...)
		if !bridge {
			ch[sideRouter] = append(ch[sideRouter], e.compile(fam, st, r, sideRouter)...)
		}
	}
	for _, r := range d.Policy.ToDevice {
		ch[sideIn] = append(ch[sideIn], e.compile(fam, st, r, sideIn)...)
	}
	return all(dropAll)
}

func concat(parts ...exprs) exprs {
	var out exprs
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// learn records "source address -> source MAC" of family v.
func learn(fam nftables.TableFamily, v int) []expr.Any {
	set := setIP4MAC
	if v == 6 {
		set = setIP6MAC
	}
	m := family(fam, v)
	return append(m, addr(v, true),
		&expr.Payload{DestRegister: 2, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
		&expr.Dynset{SrcRegKey: 1, SrcRegData: 2, SetName: set, Operation: uint32(unix.NFT_DYNSET_OP_UPDATE)})
}

// compile turns one ACE into rules for the device's chain of side sd
// (from the device, the peer being the destination, forwarded or to the
// router; or to the device). An ACE whose peer the router cannot identify
// compiles to nothing, so it grants nothing.
func (e *Enforcer) compile(fam nftables.TableFamily, st *devState, r mud.Rule, sd side) rules {
	bridge := fam == nftables.TableFamilyBridge
	fromDev, router := sd != sideIn, sd == sideRouter
	tcp := r.Protocol == unix.IPPROTO_TCP
	if r.Accept && r.Family == 0 && r.Protocol < 0 && r.EtherType == 0 && r.Peer == mud.PeerAny &&
		!r.SrcNet.IsValid() && !r.DstNet.IsValid() && r.SrcDNS == "" && r.DstDNS == "" {
		// Nothing left to match on (e.g. an eth match whose fields were
		// not understood): accepting everything is not what it meant.
		return nil
	}
	var etherType exprs
	switch {
	case r.EtherType == 0:
	case bridge:
		etherType = metaEq(expr.MetaKeyPROTOCOL, be16(uint16(r.EtherType)))
	case r.EtherType == unix.ETH_P_IP && r.Family != 6:
		etherType = family(fam, 4)
	case r.EtherType == unix.ETH_P_IPV6 && r.Family != 4:
		etherType = family(fam, 6)
	default:
		return nil // not IP: never reaches the inet table
	}
	var gate exprs
	if r.Direction != "" && tcp {
		opens := (r.Direction == mud.FromDevice) == fromDev
		if !opens {
			// The device's side of a connection the other side opened
			// (or the reverse): conntrack lets the replies through in the
			// inet table; the bridge table has no conntrack, so it refuses
			// only the opening segment.
			if !bridge {
				return nil
			}
			gate = notSynOnly()
		}
	}
	peerNet, ownNet, peerDNS := r.DstNet, r.SrcNet, r.DstDNS
	if !fromDev {
		peerNet, ownNet, peerDNS = r.SrcNet, r.DstNet, r.SrcDNS
	}
	fams := []int{r.Family}
	if r.Family == 0 && (r.Peer == mud.PeerSameManufacturer || r.Peer == mud.PeerManufacturer || r.Peer == mud.PeerModel) && !bridge {
		fams = []int{4, 6}
	}
	var out rules
	for _, v := range fams {
		base := append(exprs{}, etherType...)
		if v != 0 {
			base = append(base, family(fam, v)...)
		}
		if r.Protocol >= 0 {
			base = append(base, l4proto(r.Protocol)...)
		}
		base = append(base, icmpMatch(r)...)
		if peerNet.IsValid() {
			base = append(base, prefixMatch(peerNet, !fromDev)...)
		}
		if ownNet.IsValid() {
			base = append(base, prefixMatch(ownNet, fromDev)...)
		}
		if peerDNS != "" {
			if bridge || router || v == 0 {
				continue // names stand for internet services, not neighbours or the router
			}
			base = append(base, addr(v, !fromDev), lookup(nameSet(peerDNS, v)))
		}
		if p := r.SrcPorts; p != nil {
			base = append(base, portMatch(p.Lo, p.Hi, p.Neq, true)...)
		}
		if p := r.DstPorts; p != nil {
			base = append(base, portMatch(p.Lo, p.Hi, p.Neq, false)...)
		}
		base = append(base, gate...)
		var alts []exprs
		switch r.Peer {
		case mud.PeerAny:
			alts = []exprs{nil}
		case mud.PeerSameManufacturer, mud.PeerManufacturer, mud.PeerModel:
			g := e.peerGroup(st.dev, r)
			if g == "" || router {
				continue // the router is no maker's device
			}
			if bridge {
				alts = []exprs{{ether(!fromDev), lookup(g)}}
			} else {
				alts = []exprs{{addr(v, !fromDev), lookup(groupIPSet(nil, g, v).Name)}}
			}
		case mud.PeerLocalNetworks:
			switch {
			case bridge, router:
				alts = []exprs{nil} // everything on a bridge is local, and so is the router
			case fromDev:
				alts = []exprs{{metaLoad(expr.MetaKeyOIFNAME), lookup(setLAN)}}
			default:
				alts = []exprs{{metaLoad(expr.MetaKeyIIFNAME), lookup(setLAN)}}
			}
		case mud.PeerController, mud.PeerMyController:
			if r.Peer == mud.PeerController && r.PeerValue == mud.ControllerGateway {
				// The gateway is the router itself (issue 16).
				if !router {
					continue
				}
				alts = []exprs{nil}
				break
			}
			// The registered classes (urn:ietf:params:mud:dns, ...:ntp)
			// stand for the router's own DNS and NTP, which every device
			// not in quarantine may use anyway; other controllers are
			// those the administrator configured, by class or by the
			// device's MUD URL. None configured: nothing granted.
			if router {
				continue
			}
			for _, p := range e.controllers(st.dev, r) {
				av := 4
				if p.Addr().Is6() && !p.Addr().Is4In6() {
					av = 6
				}
				if v != 0 && v != av {
					continue
				}
				a := prefixMatch(p, !fromDev)
				if v == 0 {
					a = concat(family(fam, av), a)
				}
				alts = append(alts, a)
			}
			if len(alts) == 0 {
				continue
			}
		default:
			continue
		}
		for _, a := range alts {
			rule := concat(base, a)
			if r.Accept {
				rule = append(rule, verdict(expr.VerdictReturn))
			} else {
				rule = append(rule, counter(st.dropName()), verdict(expr.VerdictDrop))
			}
			out = append(out, rule)
		}
	}
	return out
}

// icmpMatch narrows an ICMP or ICMPv6 rule to its message type and code
// (the first two bytes of the ICMP header) (issue 16).
func icmpMatch(r mud.Rule) exprs {
	c := r.ICMP
	if c == nil || (r.Protocol != unix.IPPROTO_ICMP && r.Protocol != unix.IPPROTO_ICMPV6) {
		return nil
	}
	var m exprs
	if c.Type >= 0 {
		m = append(m, payload(expr.PayloadBaseTransportHeader, 0, 1), cmpEq([]byte{byte(c.Type)}))
	}
	if c.Code >= 0 {
		m = append(m, payload(expr.PayloadBaseTransportHeader, 1, 1), cmpEq([]byte{byte(c.Code)}))
	}
	return m
}

// controllers lists the addresses of the controllers a controller or
// my-controller match of device d names.
func (e *Enforcer) controllers(d Device, r mud.Rule) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range e.opts.Controllers {
		if (r.Peer == mud.PeerController && slices.Contains(c.Classes, r.PeerValue)) ||
			(r.Peer == mud.PeerMyController && d.Policy != nil && slices.Contains(c.MUDURLs, d.Policy.URL)) {
			out = append(out, c.Addresses...)
		}
	}
	return out
}

// peerGroup names the MAC set a manufacturer or model match refers to.
func (e *Enforcer) peerGroup(d Device, r mud.Rule) string {
	switch r.Peer {
	case mud.PeerSameManufacturer:
		if d.Manufacturer == "" {
			return ""
		}
		return groupSet(mud.PeerManufacturer, d.Manufacturer)
	case mud.PeerManufacturer:
		return groupSet(mud.PeerManufacturer, r.PeerValue)
	case mud.PeerModel:
		return groupSet(mud.PeerModel, r.PeerValue)
	}
	return ""
}

// groupsOf lists the group sets a device belongs to and the ones its
// rules refer to.
func (e *Enforcer) groupsOf(d Device) (member, used []string) {
	if d.Manufacturer != "" {
		member = append(member, groupSet(mud.PeerManufacturer, d.Manufacturer))
	}
	if d.Policy != nil && d.Policy.URL != "" {
		member = append(member, groupSet(mud.PeerModel, d.Policy.URL))
	}
	if d.Policy != nil {
		for _, r := range append(append([]mud.Rule{}, d.Policy.FromDevice...), d.Policy.ToDevice...) {
			if g := e.peerGroup(d, r); g != "" {
				used = append(used, g)
			}
		}
	}
	return member, used
}
