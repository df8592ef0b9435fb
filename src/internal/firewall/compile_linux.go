package firewall

import (
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// Names of the objects in trustjoin's tables.
const (
	setDevOut = "dev_out" // MAC -> jump to the device's "from" chain
	setDevIn  = "dev_in"  // MAC -> jump to the device's "to" chain (bridge)
	setIP4Dev = "ip4dev"  // learned IPv4 address -> jump to its device's "to" chain
	setIP6Dev = "ip6dev"  // learned IPv6 address -> jump to its device's "to" chain
	setIP4MAC = "ip4mac"  // learned IPv4 address -> MAC
	setIP6MAC = "ip6mac"  // learned IPv6 address -> MAC
	setLAN    = "lan"     // every segment interface
	setSegFwd = "seg_fwd" // ingress interface -> segment chain (inet forward)
	setQuar   = "quar"    // every interface of a quarantine segment
	setSegBr  = "seg_br"  // bridge -> segment chain (bridge forward)
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

// devChains builds the rules of a device's chains in one table: out for
// packets from the device, in for packets to it.
func (e *Enforcer) devChains(fam nftables.TableFamily, st *devState) (out, in rules) {
	acc, drop := counter(st.accName()), counter(st.dropName())
	ret := func(m exprs) []expr.Any { return append(append(exprs{}, m...), acc, verdict(expr.VerdictReturn)) }
	dropAll := exprs{drop, verdict(expr.VerdictDrop)}
	bridge := fam == nftables.TableFamilyBridge
	d := st.dev

	if !bridge {
		// Learn the device's addresses so traffic to it finds its chain.
		out = append(out, learn(fam, 4), learn(fam, 6))
	}
	if e.quarantined(d) {
		out = append(out, dropAll)
		in = append(in, dropAll)
		return out, in
	}
	if bridge {
		// No conntrack on a bridge: ARP, neighbour discovery and DHCP
		// between neighbours are allowed as such.
		nd := append(l4proto(unix.IPPROTO_ICMPV6), payload(expr.PayloadBaseTransportHeader, 0, 1),
			&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: []byte{133}, ToData: []byte{137}})
		arp := metaEq(expr.MetaKeyPROTOCOL, be16(unix.ETH_P_ARP))
		out = append(out, ret(arp), ret(nd))
		in = append(in, ret(arp), ret(nd))
		for _, port := range []uint16{67, 547, 68, 546} {
			out = append(out, ret(append(l4proto(unix.IPPROTO_UDP), portMatch(port, port, false, false)...)))
		}
	} else {
		// Established and related packets never get here (the base
		// chains accept them first; conntrack is flushed whenever a
		// device's confinement changes), nor do DHCP, DNS and neighbour
		// discovery to the router (the input chain accepts them for
		// everyone). NTP to the router: the port first, so most packets
		// skip the route lookup.
		out = append(out, ret(concat(l4proto(unix.IPPROTO_UDP), portMatch(123, 123, false, false), fibDaddrLocal())))
	}
	if d.Policy == nil {
		out = append(out, ret(nil))
		in = append(in, ret(nil))
		return out, in
	}
	for _, r := range d.Policy.FromDevice {
		out = append(out, e.compile(fam, st, r, true)...)
	}
	for _, r := range d.Policy.ToDevice {
		in = append(in, e.compile(fam, st, r, false)...)
	}
	out = append(out, dropAll)
	in = append(in, dropAll)
	return out, in
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

// compile turns one ACE into rules for the device's chain: fromDev says
// which chain (packets from the device, the peer being the destination).
// An ACE whose peer the router cannot identify compiles to nothing, so it
// grants nothing.
func (e *Enforcer) compile(fam nftables.TableFamily, st *devState, r mud.Rule, fromDev bool) rules {
	bridge := fam == nftables.TableFamilyBridge
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
		if peerNet.IsValid() {
			base = append(base, prefixMatch(peerNet, !fromDev)...)
		}
		if ownNet.IsValid() {
			base = append(base, prefixMatch(ownNet, fromDev)...)
		}
		if peerDNS != "" {
			if bridge || v == 0 {
				continue // names stand for internet services, not bridge neighbours
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
			if g == "" {
				continue
			}
			if bridge {
				alts = []exprs{{ether(!fromDev), lookup(g)}}
			} else {
				alts = []exprs{{addr(v, !fromDev), lookup(groupIPSet(nil, g, v).Name)}}
			}
		case mud.PeerLocalNetworks:
			switch {
			case bridge:
				alts = []exprs{nil} // everything on a bridge is local
			case fromDev:
				alts = []exprs{{metaLoad(expr.MetaKeyOIFNAME), lookup(setLAN)}, fibDaddrLocal()}
			default:
				alts = []exprs{{metaLoad(expr.MetaKeyIIFNAME), lookup(setLAN)}}
			}
		case mud.PeerController:
			// The registered classes stand for the router's own services.
			if bridge || !fromDev || (r.PeerValue != "urn:ietf:params:mud:dns" && r.PeerValue != "urn:ietf:params:mud:ntp") {
				continue
			}
			alts = []exprs{fibDaddrLocal()}
		default:
			continue // my-controller: nothing configured, nothing granted
		}
		for _, a := range alts {
			rule := concat(base, a)
			if r.Accept {
				rule = append(rule, counter(st.accName()), verdict(expr.VerdictReturn))
			} else {
				rule = append(rule, counter(st.dropName()), verdict(expr.VerdictDrop))
			}
			out = append(out, rule)
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
