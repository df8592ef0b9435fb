package mud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Policy is a parsed MUD file: what its manufacturer says the device needs.
type Policy struct {
	URL           string
	Version       int
	LastUpdate    time.Time
	CacheValidity time.Duration
	IsSupported   bool
	Signature     string
	Systeminfo    string
	MfgName       string
	ModelName     string
	Documentation string
	Extensions    []string
	// FromDevice and ToDevice are the rules, in file order, for traffic
	// sent by and sent to the device.
	FromDevice []Rule
	ToDevice   []Rule
	// Warnings name real-world deviations that were tolerated, and parts
	// that were ignored, with where they are.
	Warnings []string
}

// Direction says who may open a TCP connection (ietf-mud:direction-initiated).
type Direction string

// The directions; empty means either.
const (
	FromDevice Direction = "from-device"
	ToDevice   Direction = "to-device"
)

// PeerKind is the MUD abstraction an ACE matches the other side by.
type PeerKind string

// The peers RFC 8520 section 8 defines; PeerAny matches by address or name only.
const (
	PeerAny              PeerKind = ""
	PeerManufacturer     PeerKind = "manufacturer"
	PeerSameManufacturer PeerKind = "same-manufacturer"
	PeerModel            PeerKind = "model"
	PeerLocalNetworks    PeerKind = "local-networks"
	PeerController       PeerKind = "controller"
	PeerMyController     PeerKind = "my-controller"
)

// Ports is a port match: Lo..Hi inclusive, or with Neq everything but Lo.
type Ports struct {
	Lo, Hi uint16
	Neq    bool
}

// Rule is one access-control entry, the device being the implicit side.
type Rule struct {
	ACL, ACE string
	// Family is 4, 6 or 0 for an ACE without an IP match (e.g. eth).
	Family int
	// Protocol is the IP protocol number, -1 for any.
	Protocol int
	SrcNet   netip.Prefix
	DstNet   netip.Prefix
	SrcDNS   string
	DstDNS   string
	SrcPorts *Ports
	DstPorts *Ports
	// Direction restricts TCP connection set-up.
	Direction Direction
	Peer      PeerKind
	// PeerValue is the manufacturer host, model URL or controller URI.
	PeerValue string
	EtherType int
	// Accept is the action; false is drop (reject is treated as drop).
	Accept bool
	// skip marks an entry with a match this parser does not understand:
	// RFC 8520 says to ignore such nodes, so it grants nothing.
	skip bool
}

// Limits bound what Parse accepts, so no input can exhaust a router's RAM.
const (
	DefaultMaxSize = 64 << 10
	maxACEs        = 2000
)

// ParseError says what is wrong with a MUD file and where.
type ParseError struct {
	Path string
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Path == "" {
		return "MUD file: " + e.Msg
	}
	return fmt.Sprintf("MUD file: %s: %s", e.Path, e.Msg)
}

type parser struct {
	warnings []string
}

func (p *parser) warn(path, format string, args ...any) {
	if len(p.warnings) < 100 {
		p.warnings = append(p.warnings, path+": "+fmt.Sprintf(format, args...))
	}
}

func fail(path, format string, args ...any) error {
	return &ParseError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

type obj = map[string]any

// member looks a node up by its RFC 7951 name, qualified or not: files in
// the wild qualify nodes inconsistently, and the meaning is the same.
func member(o obj, names ...string) (any, string, bool) {
	for _, n := range names {
		if v, ok := o[n]; ok {
			return v, n, true
		}
		if _, local, ok := strings.Cut(n, ":"); ok {
			if v, ok := o[local]; ok {
				return v, local, true
			}
		}
	}
	return nil, "", false
}

// Parse reads a MUD file (RFC 8520). Well-known real-world deviations are
// tolerated with a warning; anything whose meaning is unclear is an error
// naming its place in the file.
func Parse(b []byte, maxSize int) (*Policy, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if len(b) > maxSize {
		return nil, fail("", "file is %d bytes, more than the %d allowed", len(b), maxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, fail("", "not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, fail("", "trailing data after the JSON object")
	}
	top, ok := root.(obj)
	if !ok {
		return nil, fail("", "the file is not a JSON object")
	}
	p := &parser{}
	mudv, _, ok := member(top, "ietf-mud:mud")
	if !ok {
		if _, ok := top["ietf-mud:support-information"]; ok {
			return nil, fail("", "2016 draft format (ietf-mud:support-information) is not RFC 8520: no ietf-mud:mud container")
		}
		return nil, fail("", "no ietf-mud:mud container")
	}
	mud, ok := mudv.(obj)
	if !ok {
		return nil, fail("ietf-mud:mud", "not an object")
	}
	pol := &Policy{IsSupported: true, CacheValidity: 48 * time.Hour}
	if err := p.header(mud, pol); err != nil {
		return nil, err
	}
	acls, err := p.acls(top)
	if err != nil {
		return nil, err
	}
	for _, dir := range []struct {
		key   string
		rules *[]Rule
	}{{"from-device-policy", &pol.FromDevice}, {"to-device-policy", &pol.ToDevice}} {
		names, err := p.policyACLs(mud, dir.key)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			rules, ok := acls[n]
			if !ok {
				return nil, fail("ietf-mud:mud/"+dir.key, "names access list %q, which the file does not define", n)
			}
			if dir.key == "from-device-policy" {
				for _, r := range rules {
					if r.SrcDNS != "" {
						return nil, fail("acl "+n, "src-dnsname in a from-device policy (RFC 8520 section 8 forbids it)")
					}
				}
			} else {
				for _, r := range rules {
					if r.DstDNS != "" {
						return nil, fail("acl "+n, "dst-dnsname in a to-device policy (RFC 8520 section 8 forbids it)")
					}
				}
			}
			*dir.rules = append(*dir.rules, rules...)
		}
	}
	pol.Warnings = p.warnings
	return pol, nil
}

func str(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

func num(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

func (p *parser) header(m obj, pol *Policy) error {
	const at = "ietf-mud:mud"
	if v, ok := m["mud-url"]; ok {
		s, ok := str(v)
		if !ok || !strings.HasPrefix(s, "https://") {
			return fail(at+"/mud-url", "must be an https URL")
		}
		pol.URL = s
	} else {
		return fail(at, "mud-url is missing")
	}
	pol.Version = 1
	if v, ok := m["mud-version"]; ok {
		n, ok := num(v)
		if !ok || n != 1 {
			return fail(at+"/mud-version", "unsupported version %v (this is RFC 8520 version 1)", v)
		}
	} else {
		p.warn(at, "mud-version is missing; taken as 1")
	}
	if v, ok := m["last-update"]; ok {
		s, _ := str(v)
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			// Seen in the wild: no time zone. The meaning is clear enough.
			if t, err = time.Parse("2006-01-02T15:04:05", s); err != nil {
				return fail(at+"/last-update", "not a date and time: %q", s)
			}
			p.warn(at+"/last-update", "no time zone; read as UTC")
		}
		pol.LastUpdate = t
	} else {
		p.warn(at, "last-update is missing")
	}
	if v, ok := m["cache-validity"]; ok {
		n, ok := num(v)
		if !ok {
			return fail(at+"/cache-validity", "not a number of hours")
		}
		if n < 1 || n > 168 {
			p.warn(at+"/cache-validity", "%d hours is outside 1..168; using %d", n, clamp(n, 1, 168))
			n = clamp(n, 1, 168)
		}
		pol.CacheValidity = time.Duration(n) * time.Hour
	}
	if v, ok := m["is-supported"]; ok {
		b, ok := v.(bool)
		if !ok {
			return fail(at+"/is-supported", "not a boolean")
		}
		pol.IsSupported = b
	}
	for k, dst := range map[string]*string{
		"mud-signature": &pol.Signature, "systeminfo": &pol.Systeminfo, "mfg-name": &pol.MfgName,
		"model-name": &pol.ModelName, "documentation": &pol.Documentation,
	} {
		if v, ok := m[k]; ok {
			s, ok := str(v)
			if !ok {
				return fail(at+"/"+k, "not a string")
			}
			*dst = s
		}
	}
	if v, ok := m["extensions"]; ok {
		list, _ := v.([]any)
		for _, e := range list {
			if s, ok := str(e); ok {
				pol.Extensions = append(pol.Extensions, s)
			}
		}
		if len(pol.Extensions) > 0 {
			p.warn(at+"/extensions", "extensions %v are not understood; their nodes are ignored", pol.Extensions)
		}
	}
	return nil
}

func clamp(n, lo, hi int64) int64 {
	return max(lo, min(hi, n))
}

func (p *parser) policyACLs(m obj, key string) ([]string, error) {
	at := "ietf-mud:mud/" + key
	v, ok := m[key]
	if !ok {
		return nil, nil
	}
	pol, ok := v.(obj)
	if !ok {
		return nil, fail(at, "not an object")
	}
	alv, _, ok := member(pol, "access-lists")
	if !ok {
		return nil, fail(at, "access-lists is missing")
	}
	al, _ := alv.(obj)
	listv, _, _ := member(al, "access-list")
	list, ok := listv.([]any)
	if !ok {
		return nil, fail(at+"/access-lists", "access-list is not a list")
	}
	var names []string
	for i, e := range list {
		eo, _ := e.(obj)
		nv, key, ok := member(eo, "name", "acl-name")
		n, sok := str(nv)
		if !ok || !sok || n == "" {
			return nil, fail(fmt.Sprintf("%s/access-lists/access-list[%d]", at, i), "has no name")
		}
		if key == "acl-name" {
			p.warn(fmt.Sprintf("%s/access-lists/access-list[%d]", at, i), "pre-RFC key acl-name read as name")
		}
		names = append(names, n)
	}
	return names, nil
}

func (p *parser) acls(top obj) (map[string][]Rule, error) {
	v, key, ok := member(top, "ietf-access-control-list:acls", "ietf-access-control-list:access-lists")
	if !ok {
		return nil, fail("", "no ietf-access-control-list:acls")
	}
	if strings.HasSuffix(key, "access-lists") {
		p.warn(key, "pre-RFC name for ietf-access-control-list:acls")
	}
	o, ok := v.(obj)
	if !ok {
		return nil, fail(key, "not an object")
	}
	listv, _, _ := member(o, "acl")
	list, ok := listv.([]any)
	if !ok {
		return nil, fail(key, "acl is not a list")
	}
	out := map[string][]Rule{}
	total, kept := 0, 0
	firstSkip := ""
	for i, a := range list {
		at := fmt.Sprintf("%s/acl[%d]", key, i)
		ao, ok := a.(obj)
		if !ok {
			return nil, fail(at, "not an object")
		}
		nv, nkey, _ := member(ao, "name", "acl-name")
		name, ok := str(nv)
		if !ok || name == "" {
			return nil, fail(at, "has no name")
		}
		if nkey == "acl-name" {
			p.warn(at, "pre-RFC key acl-name read as name")
		}
		if _, dup := out[name]; dup {
			return nil, fail(at, "access list %q is defined twice", name)
		}
		typ, _ := str(ao["type"])
		if typ == "" {
			typ, _ = str(ao["acl-type"])
		}
		acesv, _, _ := member(ao, "aces", "access-list-entries")
		aces, _ := acesv.(obj)
		entries, ok := aces["ace"].([]any)
		if !ok {
			return nil, fail(at, "aces/ace is missing or not a list")
		}
		var rules []Rule
		for j, e := range entries {
			total++
			if total > maxACEs {
				return nil, fail(at, "more than %d access-control entries", maxACEs)
			}
			r, err := p.ace(fmt.Sprintf("%s/aces/ace[%d]", at, j), name, typ, e)
			if err != nil {
				return nil, err
			}
			if r.skip {
				if firstSkip == "" {
					firstSkip = p.warnings[len(p.warnings)-1]
				}
				continue
			}
			kept++
			rules = append(rules, r)
		}
		out[name] = rules
	}
	if total > 0 && kept == 0 {
		// A file none of whose entries can be read grants nothing; calling
		// it understood would hide that (pre-RFC drafts look like this).
		return nil, fail("", "none of its %d access-control entries is in RFC 8520 form (first: %s)", total, firstSkip)
	}
	return out, nil
}

func (p *parser) ace(at, acl, typ string, e any) (Rule, error) {
	r := Rule{ACL: acl, Protocol: -1}
	eo, ok := e.(obj)
	if !ok {
		return r, fail(at, "not an object")
	}
	r.ACE, _ = str(eo["name"])
	if r.ACE == "" {
		r.ACE, _ = str(eo["rule-name"])
	}
	switch {
	case strings.Contains(typ, "ipv6"):
		r.Family = 6
	case strings.Contains(typ, "ipv4"):
		r.Family = 4
	}
	mv, _, ok := member(eo, "matches")
	matches, mok := mv.(obj)
	if !ok || !mok {
		return r, fail(at, "matches is missing")
	}
	keys := make([]string, 0, len(matches))
	for k := range matches {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := matches[k]
		mat := at + "/matches/" + k
		var err error
		switch local(k) {
		case "ipv4", "ipv6":
			err = p.ip(mat, k, v, &r)
		case "tcp", "udp":
			err = p.l4(mat, local(k), v, &r)
		case "icmp":
			r.Protocol = 1
			if r.Family == 6 {
				r.Protocol = 58
			}
		case "eth":
			eth, _ := v.(obj)
			for ek := range eth {
				if local(ek) != "ethertype" {
					// A MAC address match left out would make an
					// accept entry grant more than it says.
					p.warn(mat+"/"+ek, "ethernet match not understood; the entry is ignored")
					r.skip = true
					return r, nil
				}
			}
			if ev, ok := eth["ethertype"]; ok {
				et, ok := ethertype(ev)
				if !ok {
					return r, fail(mat+"/ethertype", "want a number from 0 to 65535 (like 2048 or \"0x0800\") or ipv4, arp, ipv6; got %v", ev)
				}
				r.EtherType = et
			}
		case "mud":
			err = p.mudMatch(mat, v, &r)
		default:
			p.warn(mat, "match not understood; the entry is ignored")
			r.skip = true
			return r, nil
		}
		if err != nil {
			return r, err
		}
	}
	av, _, _ := member(eo, "actions")
	actions, _ := av.(obj)
	fwd, _ := str(actions["forwarding"])
	switch local(fwd) {
	case "accept":
		r.Accept = true
	case "drop":
	case "reject":
		p.warn(at+"/actions", "reject treated as drop")
	default:
		return r, fail(at+"/actions/forwarding", "want accept or drop, got %q", fwd)
	}
	return r, nil
}

// ethertype reads an ethertype as RFC 8519 files write it: a number, a
// string holding one (decimal or 0x-hex), or a well-known name.
func ethertype(v any) (int, bool) {
	if s, ok := v.(string); ok {
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

// local drops a YANG module prefix.
func local(s string) string {
	if _, l, ok := strings.Cut(s, ":"); ok {
		return l
	}
	return s
}

func (p *parser) ip(at, key string, v any, r *Rule) error {
	o, ok := v.(obj)
	if !ok {
		return fail(at, "not an object")
	}
	if local(key) == "ipv6" {
		r.Family = 6
	} else {
		r.Family = 4
	}
	if pv, ok := o["protocol"]; ok {
		n, ok := num(pv)
		if !ok || n < 0 || n > 255 {
			return fail(at+"/protocol", "not a protocol number: %v", pv)
		}
		r.Protocol = int(n)
	}
	for k, val := range o {
		switch local(k) {
		case "protocol":
		case "dst-dnsname", "src-dnsname":
			s, ok := str(val)
			if !ok || s == "" || strings.ContainsAny(s, " /") {
				return fail(at+"/"+k, "not a host name: %v", val)
			}
			if local(k) == "dst-dnsname" {
				r.DstDNS = strings.ToLower(strings.TrimSuffix(s, "."))
			} else {
				r.SrcDNS = strings.ToLower(strings.TrimSuffix(s, "."))
			}
		case "destination-ipv4-network", "destination-ipv6-network", "source-ipv4-network", "source-ipv6-network":
			s, _ := str(val)
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				return fail(at+"/"+k, "not an address prefix: %q", s)
			}
			if strings.HasPrefix(local(k), "destination") {
				r.DstNet = pfx
			} else {
				r.SrcNet = pfx
			}
			p.warn(at+"/"+k, "a literal address; RFC 8520 advises against applying these automatically")
		default:
			p.warn(at+"/"+k, "not understood; ignored")
		}
	}
	return nil
}

func (p *parser) l4(at, proto string, v any, r *Rule) error {
	o, ok := v.(obj)
	if !ok {
		return fail(at, "not an object")
	}
	want := 6
	if proto == "udp" {
		want = 17
	}
	if r.Protocol >= 0 && r.Protocol != want {
		return fail(at, "%s match, but the IP protocol is %d", proto, r.Protocol)
	}
	r.Protocol = want
	for k, val := range o {
		switch local(k) {
		case "source-port", "destination-port":
			ports, err := p.ports(at+"/"+k, val)
			if err != nil {
				return err
			}
			if local(k) == "source-port" {
				r.SrcPorts = ports
			} else {
				r.DstPorts = ports
			}
		case "direction-initiated":
			if proto != "tcp" {
				return fail(at+"/"+k, "only TCP has a direction-initiated (RFC 8520 section 4)")
			}
			s, _ := str(val)
			switch Direction(s) {
			case FromDevice, ToDevice:
				r.Direction = Direction(s)
			default:
				return fail(at+"/"+k, "want from-device or to-device, got %q", s)
			}
		default:
			p.warn(at+"/"+k, "not understood; ignored")
		}
	}
	return nil
}

func (p *parser) ports(at string, v any) (*Ports, error) {
	o, ok := v.(obj)
	if !ok {
		return nil, fail(at, "not an object")
	}
	port := func(k string) (uint16, bool, error) {
		pv, ok := o[k]
		if !ok {
			return 0, false, nil
		}
		n, ok := num(pv)
		if !ok || n < 0 || n > 65535 {
			return 0, true, fail(at+"/"+k, "not a port: %v", pv)
		}
		return uint16(n), true, nil
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
	op, _ := str(o["operator"])
	switch {
	case hasLo && hasHi:
		if op != "" {
			p.warn(at, "operator %q mixed with lower-port/upper-port; read as a range", op)
		}
		if lo > hi {
			return nil, fail(at, "lower-port %d is above upper-port %d", lo, hi)
		}
		return &Ports{Lo: lo, Hi: hi}, nil
	case hasPort:
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
		return nil, fail(at+"/operator", "want eq, lte, gte or neq, got %q", op)
	}
	return nil, fail(at, "needs port (with operator) or lower-port and upper-port")
}

func (p *parser) mudMatch(at string, v any, r *Rule) error {
	o, ok := v.(obj)
	if !ok {
		return fail(at, "not an object")
	}
	if len(o) != 1 {
		return fail(at, "want exactly one MUD match, got %d", len(o))
	}
	for k, val := range o {
		kind := PeerKind(local(k))
		switch kind {
		case PeerSameManufacturer, PeerLocalNetworks, PeerMyController:
			// RFC 7951 encodes a YANG "empty" leaf as [null].
			list, ok := val.([]any)
			switch {
			case ok && len(list) == 1 && list[0] == nil:
			case ok && len(list) == 0:
				p.warn(at+"/"+k, "[] read as [null] (the RFC 7951 encoding of an empty leaf)")
			default:
				return fail(at+"/"+k, "want [null], got %v", val)
			}
		case PeerManufacturer, PeerModel, PeerController:
			s, ok := str(val)
			if !ok || s == "" {
				return fail(at+"/"+k, "want a string")
			}
			r.PeerValue = s
		default:
			return fail(at+"/"+k, "unknown MUD match")
		}
		r.Peer = kind
	}
	return nil
}
