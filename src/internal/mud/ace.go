package mud

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// matchParts collects, while an entry's matches are read, what cannot be
// enforced exactly. An accept entry with a standard match this parser does
// not implement grants nothing (enforcing it without that match would
// allow more than the file says); a drop entry drops without it, so a
// drop not understood only ever makes the policy stricter. Extension
// matches are ignored as RFC 8520 asks, and said to be.
type matchParts struct {
	base    string   // the entry's path and a slash: messages name places from the entry
	unknown []string // standard leaves and matches not implemented
	ext     []string // members of modules this parser does not know
	notes   []string
	// proto0 marks "protocol": 0, kept as 0 until the matches are all read
	// so contradictions still show.
	proto0 bool
	// bothICMP marks an ICMP match without an IP version.
	bothICMP bool
}

func (a *matchParts) note(format string, args ...any) {
	a.notes = append(a.notes, fmt.Sprintf(format, args...))
}

// rel names a place inside the entry.
func (a *matchParts) rel(path string) string { return strings.TrimPrefix(path, a.base) }

func (a *matchParts) rest(n *node) {
	for _, k := range n.unused() {
		a.unknown = append(a.unknown, a.rel(n.at+"/"+k))
	}
	for _, k := range n.ext {
		a.ext = append(a.ext, a.rel(n.at+"/"+k))
	}
}

func (p *parser) ace(at, acl string, fam int, v any) (aceDef, error) {
	d := aceDef{Entry: Entry{ACL: acl, Path: at}}
	n, err := p.node(at, v)
	if err != nil {
		return d, err
	}
	a := matchParts{base: at + "/"}
	name, ok, err := n.str("name")
	if err == nil && !ok {
		if name, ok, err = n.str("rule-name"); ok && err == nil {
			a.note("pre-RFC key rule-name read as name")
		}
	}
	if err != nil {
		return d, err
	}
	d.ACE = name

	// The action first: what is not understood is settled by what the
	// entry would do.
	av, ok := n.take("actions")
	if !ok {
		return d, fail(at, "actions is missing")
	}
	actions, err := p.node(n.path("actions"), av)
	if err != nil {
		return d, err
	}
	fwd, _, err := actions.str("forwarding")
	if err != nil {
		return d, err
	}
	switch _, f := local(fwd); f {
	case "accept":
		d.Accept = true
	case "drop":
	case "reject":
		a.note("reject treated as drop")
	default:
		return d, fail(actions.path("forwarding"), "want accept or drop, got %q", fwd)
	}
	for _, k := range append(actions.unused(), actions.ext...) {
		a.note("action %s is not supported; ignored", k)
	}

	mv, ok := n.take("matches")
	if !ok {
		return d, fail(at, "matches is missing")
	}
	m, err := p.node(n.path("matches"), mv)
	if err != nil {
		return d, err
	}
	for _, k := range append(n.unused(), n.ext...) {
		a.note("%s is not understood; ignored (it does not change what the entry matches)", k)
	}
	r := Rule{ACL: acl, ACE: name, Family: fam, Protocol: -1, Accept: d.Accept}
	if m.has("ipv4") && m.has("ipv6") {
		return d, fail(m.at, "both an ipv4 and an ipv6 match (RFC 8519 allows one layer-3 match per entry)")
	}
	l4 := 0
	for _, k := range []string{"tcp", "udp", "icmp"} {
		if m.has(k) {
			l4++
		}
	}
	if l4 > 1 {
		return d, fail(m.at, "more than one of tcp, udp and icmp (RFC 8519 allows one layer-4 match per entry)")
	}
	known := false
	// Layer 3 first: it decides the family the others are read in.
	for _, k := range []string{"ipv4", "ipv6", "tcp", "udp", "icmp", "eth", "mud"} {
		v, ok := m.take(k)
		if !ok {
			continue
		}
		at := m.path(k)
		switch k {
		case "ipv4":
			err = p.ip(at, 4, v, &r, &a)
		case "ipv6":
			err = p.ip(at, 6, v, &r, &a)
		case "tcp", "udp":
			err = p.l4(at, k, v, &r, &a)
		case "icmp":
			err = p.icmp(at, v, &r, &a)
		case "eth":
			err = p.eth(at, v, &r, &a)
		case "mud":
			err = p.mudMatch(at, v, &r, &a)
		}
		if err != nil {
			return d, err
		}
		// A MUD container holding only an extension's node matches
		// nothing of its own.
		known = known || k != "mud" || r.Peer != PeerAny
	}
	a.rest(m)
	d.srcDNS, d.dstDNS = r.SrcDNS != "", r.DstDNS != ""
	d.gateway = r.Peer == PeerController && r.PeerValue == ControllerGateway

	ignore := func(format string, args ...any) (aceDef, error) {
		d.Ignored = fmt.Sprintf(format, args...)
		d.Notes = capNotes(a.notes)
		return d, nil
	}
	if len(a.unknown) > 0 {
		if d.Accept {
			return ignore("grants nothing: %s not implemented, and enforcing the entry without it would allow more than the file says", strings.Join(a.unknown, ", "))
		}
		a.note("drops more than the file says: %s not implemented, so the entry drops without it (a drop never loosens the policy)", strings.Join(a.unknown, ", "))
	}
	if len(a.ext) > 0 {
		list := strings.Join(a.ext, ", ")
		switch {
		case d.Accept && !known:
			return ignore("grants nothing: its only match, %s, is from an extension trustjoin does not implement%s", list, p.undeclared())
		case d.Accept:
			a.note("enforced without %s, from an extension trustjoin does not implement (RFC 8520 says to ignore such nodes), so it allows more than the file says%s", list, p.undeclared())
		default:
			a.note("drops without %s, from an extension trustjoin does not implement, so it drops more than the file says%s", list, p.undeclared())
		}
	}
	if a.proto0 {
		if d.Accept {
			return ignore("grants nothing: protocol 0 is the IPv6 Hop-by-Hop Options header (the YANG's next-header), never a packet's transport protocol, so the entry matches nothing; leave protocol out to mean any")
		}
		r.Protocol = -1
		a.note("protocol 0 (the Hop-by-Hop Options header) is no packet's transport protocol: read as any protocol, so the drop drops more rather than nothing")
	}
	if d.Accept && matchesAll(r) && !a.bothICMP {
		return ignore("grants nothing: it matches every packet, and a MUD file only ever narrows what the device's segment allows")
	}
	if a.bothICMP {
		switch {
		case d.Accept && r.ICMP != nil:
			return ignore("grants nothing: an ICMP type or code without an IP version (ICMP and ICMPv6 number their messages differently); give the entry an ipv4 or ipv6 match, or put it in an ipv4-acl-type or ipv6-acl-type list")
		case d.Accept:
			a.note("ICMP without an IP version: allows ICMP and ICMPv6")
		default:
			a.note("ICMP without an IP version: drops both ICMP and ICMPv6")
		}
		v4, v6 := r, r
		v4.Family, v4.Protocol = 4, 1
		v6.Family, v6.Protocol = 6, 58
		d.Rules = []Rule{v4, v6}
	} else {
		d.Rules = []Rule{r}
	}
	d.Notes = capNotes(a.notes)
	return d, nil
}

// matchesAll says r matches every packet of every kind.
func matchesAll(r Rule) bool {
	return r.Family == 0 && r.Protocol < 0 && r.ICMP == nil && r.EtherType == 0 && r.Peer == PeerAny &&
		!r.SrcNet.IsValid() && !r.DstNet.IsValid() && r.SrcDNS == "" && r.DstDNS == "" &&
		r.SrcPorts == nil && r.DstPorts == nil
}

func capNotes(n []string) []string {
	if len(n) > maxNotes {
		return append(n[:maxNotes:maxNotes], fmt.Sprintf("and %d more notes", len(n)-maxNotes))
	}
	return n
}

// ethertype reads an ethertype as RFC 8519 files write it: a number, a
// string holding one (decimal or 0x-hex), or a well-known name.
func ethertype(v any) (int, bool) {
	if s, ok := v.(string); ok {
		_, s = local(s) // ietf-ethertypes identities may be qualified
		switch strings.ToLower(s) {
		case "ipv4":
			return 0x0800, true
		case "arp":
			return 0x0806, true
		case "ipv6":
			return 0x86dd, true
		}
		if h, found := strings.CutPrefix(strings.ToLower(s), "0x"); found {
			n, err := strconv.ParseUint(h, 16, 16)
			return int(n), err == nil
		}
	}
	n, ok := num(v)
	return int(n), ok && n >= 0 && n <= 0xffff
}

func (p *parser) eth(at string, v any, r *Rule, a *matchParts) error {
	n, err := p.node(at, v)
	if err != nil {
		return err
	}
	if ev, ok := n.take("ethertype"); ok {
		et, ok := ethertype(ev)
		if !ok {
			return fail(n.path("ethertype"), "want a number from 0 to 65535 (like 2048 or \"0x0800\") or ipv4, arp, ipv6; got %s", show(ev))
		}
		r.EtherType = et
		if et < 0x0600 {
			a.note("ethertype %#04x is below 0x0600, which Ethernet reads as a frame length: the entry matches no frame", et)
		}
	}
	// MAC addresses and the like: an accept entry left without them would
	// grant more than it says.
	a.rest(n)
	return nil
}

func (p *parser) ip(at string, v int, val any, r *Rule, a *matchParts) error {
	n, err := p.node(at, val)
	if err != nil {
		return err
	}
	if r.Family != 0 && r.Family != v {
		a.note("an ipv%d match in an ipv%d access list: read as IPv%d, as the match says", v, r.Family, v)
	}
	r.Family = v
	if pv, ok := n.take("protocol"); ok {
		pr, err := uint8Leaf(n.path("protocol"), pv)
		if err != nil {
			return err
		}
		r.Protocol = pr
		a.proto0 = pr == 0
	}
	for _, k := range []string{"dst-dnsname", "src-dnsname"} {
		s, ok, err := n.str(k)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if ad, err := netip.ParseAddr(s); err == nil {
			// inet:host allows an address; it is one, not a name.
			if ad.Is4() != (v == 4) {
				return fail(n.path(k), "the IPv%d address %s in an ipv%d match", 10-v, s, v)
			}
			pfx := netip.PrefixFrom(ad, ad.BitLen())
			if k == "dst-dnsname" {
				r.DstNet = pfx
			} else {
				r.SrcNet = pfx
			}
			a.note("%s %s is an address, not a name: matched as the one host %s; RFC 8520 advises against literal addresses", k, s, pfx)
			continue
		}
		name, uni, err := hostName(s)
		if err != nil {
			return fail(n.path(k), "%q is not a DNS name: %v", s, err)
		}
		if uni != "" {
			a.note("%s is the internationalised name %q: check it is the one you expect (letters from other scripts can look alike)", name, uni)
		}
		if k == "dst-dnsname" {
			r.DstDNS = name
		} else {
			r.SrcDNS = name
		}
	}
	for _, leaf := range []string{"destination-ipv4-network", "source-ipv4-network", "destination-ipv6-network", "source-ipv6-network"} {
		sv, ok := n.take(leaf)
		if !ok {
			continue
		}
		at := n.path(leaf)
		if !strings.Contains(leaf, "ipv"+strconv.Itoa(v)) {
			return fail(at, "%s in an ipv%d match", leaf, v)
		}
		s, _ := sv.(string)
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			ad, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return fail(at, "not an address prefix: %q", s)
			}
			pfx = netip.PrefixFrom(ad, ad.BitLen())
			a.note("%s %s has no prefix length: read as the one host %s", leaf, s, pfx)
		}
		if pfx.Addr().Is4() != (v == 4) {
			return fail(at, "%q is an IPv%d address in an IPv%d leaf", s, 10-v, v)
		}
		if m := pfx.Masked(); m != pfx {
			a.note("%s %s has host bits set: read as %s", leaf, s, m)
			pfx = m
		}
		if strings.HasPrefix(leaf, "destination") {
			r.DstNet = pfx
		} else {
			r.SrcNet = pfx
		}
		a.note("%s is a literal address; RFC 8520 advises against applying these automatically", a.rel(at))
	}
	a.rest(n)
	return nil
}

func (p *parser) l4(at, proto string, v any, r *Rule, a *matchParts) error {
	n, err := p.node(at, v)
	if err != nil {
		return err
	}
	want := 6
	if proto == "udp" {
		want = 17
	}
	if r.Protocol >= 0 && r.Protocol != want {
		return fail(at, "%s match, but the IP protocol is %d", proto, r.Protocol)
	}
	r.Protocol = want
	for _, k := range []string{"source-port", "destination-port"} {
		pv, ok := n.take(k)
		if !ok {
			continue
		}
		ports, err := p.ports(n.path(k), pv, a)
		if err != nil {
			return err
		}
		if k == "source-port" {
			r.SrcPorts = ports
		} else {
			r.DstPorts = ports
		}
	}
	if s, ok, err := n.str("direction-initiated"); err != nil {
		return err
	} else if ok {
		if proto != "tcp" {
			return fail(n.path("direction-initiated"), "only TCP has a direction-initiated (RFC 8520 section 4)")
		}
		switch Direction(s) {
		case FromDevice, ToDevice:
			r.Direction = Direction(s)
		default:
			return fail(n.path("direction-initiated"), "want from-device or to-device, got %q", s)
		}
	}
	a.rest(n)
	return nil
}

func (p *parser) icmp(at string, v any, r *Rule, a *matchParts) error {
	n, err := p.node(at, v)
	if err != nil {
		return err
	}
	c := ICMP{Type: -1, Code: -1}
	for _, k := range []string{"type", "code"} {
		lv, ok := n.take(k)
		if !ok {
			continue
		}
		x, err := uint8Leaf(n.path(k), lv)
		if err != nil {
			return err
		}
		if k == "type" {
			c.Type = x
		} else {
			c.Code = x
		}
	}
	if c != (ICMP{-1, -1}) {
		r.ICMP = &c
	}
	switch r.Family {
	case 4, 6:
		want := 1
		if r.Family == 6 {
			want = 58
		}
		if r.Protocol >= 0 && r.Protocol != want {
			return fail(at, "icmp match, but the IP protocol is %d (ICMP is %d in IPv%d)", r.Protocol, want, r.Family)
		}
		r.Protocol = want
	default:
		a.bothICMP = true
	}
	// rest-of-header: an accept entry without it would allow more.
	a.rest(n)
	return nil
}

func (p *parser) ports(at string, v any, a *matchParts) (*Ports, error) {
	n, err := p.node(at, v)
	if err != nil {
		return nil, err
	}
	port := func(k string) (uint16, bool, error) {
		pv, ok := n.take(k)
		if !ok {
			return 0, false, nil
		}
		x, ok := num(pv)
		if !ok || x < 0 || x > 65535 {
			return 0, true, fail(n.path(k), "not a port: %s", show(pv))
		}
		return uint16(x), true, nil
	}
	lo, hasLo, err := port("lower-port")
	if err != nil {
		return nil, err
	}
	hi, hasHi, err := port("upper-port")
	if err != nil {
		return nil, err
	}
	pt, hasPort, err := port("port")
	if err != nil {
		return nil, err
	}
	op, _, err := n.str("operator")
	if err != nil {
		return nil, err
	}
	a.rest(n)
	switch {
	case hasLo && hasHi && !hasPort:
		if op != "" {
			a.note("%s: operator %q mixed with lower-port/upper-port; read as a range", a.rel(at), op)
		}
		if lo > hi {
			return nil, fail(at, "lower-port %d is above upper-port %d", lo, hi)
		}
		return &Ports{Lo: lo, Hi: hi}, nil
	case hasPort && !hasLo && !hasHi:
		switch op {
		case "", "eq":
			return &Ports{Lo: pt, Hi: pt}, nil
		case "lte":
			return &Ports{Lo: 0, Hi: pt}, nil
		case "gte":
			return &Ports{Lo: pt, Hi: 65535}, nil
		case "neq":
			return &Ports{Lo: pt, Hi: pt, Neq: true}, nil
		}
		return nil, fail(n.path("operator"), "want eq, lte, gte or neq, got %q", op)
	}
	return nil, fail(at, "needs port (with operator) or lower-port and upper-port, one or the other")
}

func (p *parser) mudMatch(at string, v any, r *Rule, a *matchParts) error {
	n, err := p.node(at, v)
	if err != nil {
		return err
	}
	if len(n.fields) > 1 || len(n.fields)+len(n.ext) == 0 {
		return fail(at, "want exactly one MUD match, got %d", len(n.fields))
	}
	for k, f := range n.fields {
		kind := PeerKind(k)
		switch kind {
		case PeerSameManufacturer, PeerLocalNetworks, PeerMyController:
			// RFC 7951 encodes a YANG "empty" leaf as [null].
			list, ok := f.val.([]any)
			switch {
			case ok && len(list) == 1 && list[0] == nil:
			case ok && len(list) == 0:
				a.note("%s: [] read as [null] (the RFC 7951 encoding of an empty leaf)", a.rel(n.path(k)))
			default:
				return fail(n.path(k), "want [null], got %s", show(f.val))
			}
		case PeerManufacturer, PeerModel, PeerController:
			s, ok := f.val.(string)
			if !ok || s == "" {
				return fail(n.path(k), "want a string")
			}
			r.PeerValue = s
			if kind == PeerManufacturer {
				name, _, err := hostName(s)
				if err != nil {
					return fail(n.path(k), "%q is not a host name: %v", s, err)
				}
				r.PeerValue = name
			}
		default:
			return fail(n.path(k), "unknown MUD match")
		}
		r.Peer = kind
	}
	for _, k := range n.ext {
		a.ext = append(a.ext, a.rel(at+"/"+k))
	}
	return nil
}
