package mud

import (
	"fmt"
	"net/netip"
	"slices"
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
	// NamesNoACL says neither policy names an access list: the file says
	// nothing about the device's traffic (the YANG makes both optional),
	// so it does not confine the device, which keeps its segment's
	// default. A file that means "nothing at all" names an empty list.
	NamesNoACL bool
	// Entries account for every access-control entry of the file, in
	// policy order: what each became, or why it grants nothing.
	Entries []Entry
	// Warnings name real-world deviations that were tolerated, and parts
	// that were ignored, with where they are; those about one entry are
	// in its Notes.
	Warnings []string
}

// Direction says who may open a TCP connection (ietf-mud:direction-initiated);
// it also names the policy an entry belongs to.
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

// Controller classes with a fixed meaning. DNS and NTP are registered by
// RFC 8520; the gateway is the router itself.
const (
	ControllerDNS     = "urn:ietf:params:mud:dns"
	ControllerNTP     = "urn:ietf:params:mud:ntp"
	ControllerGateway = "urn:ietf:params:mud:gateway"
)

// Ports is a port match: Lo..Hi inclusive, or with Neq everything but Lo.
type Ports struct {
	Lo, Hi uint16
	Neq    bool
}

// ICMP narrows an ICMP or ICMPv6 rule to a message type and code; -1 is
// any.
type ICMP struct {
	Type, Code int
}

// Rule is one access-control entry, the device being the implicit side.
type Rule struct {
	ACL, ACE string
	// Family is 4, 6 or 0 for an ACE without an IP match (e.g. eth).
	Family int
	// Protocol is the IP protocol number, -1 for any.
	Protocol int
	// ICMP, with Protocol 1 or 58, narrows the rule to one message type
	// and code; nil is any ICMP.
	ICMP     *ICMP
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
}

// Entry accounts for one access-control entry of the file.
type Entry struct {
	// Policy is the policy that names the entry's access list; empty when
	// neither does (the entry then does nothing).
	Policy   Direction
	ACL, ACE string
	// Path is where the entry is in the file.
	Path   string
	Accept bool
	// Rules are what the entry compiles to, in order; none when Ignored
	// says why.
	Rules   []Rule
	Ignored string
	// Notes say what was tolerated, narrowed or widened, in plain words.
	Notes []string
}

// Limits bound what Parse accepts, so no input can exhaust a router's RAM.
const (
	// DefaultMaxSize is mud.max_size's default. Real generated files reach
	// about 100 kB (MUDgee profiles of chatty devices); 256 KiB leaves
	// room for more and parses in a few MB of memory.
	DefaultMaxSize = 256 << 10
	// MaxSizeLimit is the most mud.max_size may be.
	MaxSizeLimit = 1 << 20
	maxACEs      = 2000
	maxNotes     = 20
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
	// declared says the file names extensions (RFC 8520 section 3.9).
	declared bool
}

func (p *parser) warn(path, format string, args ...any) {
	if len(p.warnings) < 100 {
		p.warnings = append(p.warnings, path+": "+fmt.Sprintf(format, args...))
	}
}

func fail(path, format string, args ...any) error {
	return &ParseError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Parse reads a MUD file (RFC 8520). Well-known real-world deviations are
// tolerated with a warning; anything whose meaning is unclear is an error
// naming its place in the file. The same bytes always give the same
// policy. maxSize <= 0 means DefaultMaxSize.
func Parse(b []byte, maxSize int) (*Policy, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if len(b) > maxSize {
		return nil, fail("", "file is %d bytes, more than the %d allowed", len(b), maxSize)
	}
	p := &parser{}
	if rest, ok := strings.CutPrefix(string(b), "\uFEFF"); ok {
		b = []byte(rest)
		p.warn("", "starts with a byte order mark, which JSON does not use; ignored")
	}
	if err := notJSON(b); err != nil {
		return nil, err
	}
	root, err := decodeStrict(b)
	if err != nil {
		return nil, err
	}
	if _, ok := root.(obj); !ok {
		return nil, fail("", "the file is not a JSON object")
	}
	top, err := p.node("", root)
	if err != nil {
		return nil, err
	}
	mudv, ok := top.take("mud")
	if !ok {
		if top.has("support-information") {
			return nil, fail("", "2016 draft format (ietf-mud:support-information) is not RFC 8520: no ietf-mud:mud container")
		}
		return nil, fail("", "no ietf-mud:mud container")
	}
	mud, err := p.node(top.path("mud"), mudv)
	if err != nil {
		return nil, err
	}
	pol := &Policy{IsSupported: true, CacheValidity: 48 * time.Hour}
	if err := p.header(mud, pol); err != nil {
		return nil, err
	}
	acls, order, err := p.acls(top)
	if err != nil {
		return nil, err
	}
	named := 0
	for _, dir := range []struct {
		d     Direction
		rules *[]Rule
	}{{FromDevice, &pol.FromDevice}, {ToDevice, &pol.ToDevice}} {
		names, err := p.policyACLs(mud, string(dir.d)+"-policy")
		if err != nil {
			return nil, err
		}
		named += len(names)
		for _, n := range names {
			acl, ok := acls[n.name]
			if !ok {
				return nil, fail(n.at, "names access list %q, which the file does not define", n.name)
			}
			acl.used = true
			for _, e := range acl.entries {
				if dir.d == FromDevice && e.srcDNS {
					return nil, fail(e.Path, "src-dnsname in a from-device policy (RFC 8520 section 8 forbids it)")
				}
				if dir.d == ToDevice && e.dstDNS {
					return nil, fail(e.Path, "dst-dnsname in a to-device policy (RFC 8520 section 8 forbids it)")
				}
				en := e.Entry
				en.Policy = dir.d
				if dir.d == ToDevice && e.gateway {
					en.Notes = append(slices.Clip(en.Notes), "what the router itself sends is not confined: this entry changes nothing")
				}
				pol.Entries = append(pol.Entries, en)
				*dir.rules = append(*dir.rules, en.Rules...)
			}
		}
	}
	for _, name := range order {
		acl := acls[name]
		if acl.used {
			continue
		}
		p.warn(acl.at, "access list %q is named by neither policy; its %d entries do nothing", name, len(acl.entries))
		for _, e := range acl.entries {
			en := e.Entry
			en.Rules, en.Ignored = nil, "its access list is named by neither policy"
			pol.Entries = append(pol.Entries, en)
		}
	}
	if named == 0 {
		pol.NamesNoACL = true
		p.warn(mud.at, "neither policy names an access list: the file says nothing about the device's traffic, so the device keeps its segment's default")
	}
	pol.Warnings = p.warnings
	return pol, nil
}

func (p *parser) header(m *node, pol *Policy) error {
	s, ok, err := m.str("mud-url")
	switch {
	case err != nil:
		return err
	case !ok:
		return fail(m.at, "mud-url is missing")
	case !strings.HasPrefix(s, "https://"):
		return fail(m.path("mud-url"), "must be an https URL")
	}
	pol.URL = s
	pol.Version = 1
	if v, ok := m.take("mud-version"); ok {
		n, ok := num(v)
		if !ok || n != 1 {
			return fail(m.path("mud-version"), "unsupported version %s (this is RFC 8520 version 1)", show(v))
		}
	} else {
		p.warn(m.at, "mud-version is missing; taken as 1")
	}
	if s, ok, err := m.str("last-update"); err != nil {
		return err
	} else if ok {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			// Seen in the wild: no time zone. The meaning is clear enough.
			if t, err = time.Parse("2006-01-02T15:04:05", s); err != nil {
				return fail(m.path("last-update"), "not a date and time: %q", s)
			}
			p.warn(m.path("last-update"), "no time zone; read as UTC")
		}
		pol.LastUpdate = t
	} else {
		p.warn(m.at, "last-update is missing")
	}
	if v, ok := m.take("cache-validity"); ok {
		n, ok := num(v)
		if !ok {
			return fail(m.path("cache-validity"), "not a number of hours")
		}
		if n < 1 || n > 168 {
			p.warn(m.path("cache-validity"), "%d hours is outside 1..168; using %d", n, clamp(n, 1, 168))
			n = clamp(n, 1, 168)
		}
		pol.CacheValidity = time.Duration(n) * time.Hour
	}
	if v, ok := m.take("is-supported"); ok {
		b, ok := v.(bool)
		if !ok {
			return fail(m.path("is-supported"), "not a boolean")
		}
		pol.IsSupported = b
	}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"mud-signature", &pol.Signature}, {"systeminfo", &pol.Systeminfo}, {"mfg-name", &pol.MfgName},
		{"model-name", &pol.ModelName}, {"documentation", &pol.Documentation},
		{"firmware-rev", nil}, {"software-rev", nil},
	} {
		s, ok, err := m.str(f.key)
		if err != nil {
			return err
		}
		if ok && f.dst != nil {
			*f.dst = s
		}
	}
	if v, ok := m.take("extensions"); ok {
		list, _ := v.([]any)
		for _, e := range list {
			if s, ok := e.(string); ok {
				pol.Extensions = append(pol.Extensions, s)
			}
		}
		if len(pol.Extensions) > 0 {
			p.declared = true
			p.warn(m.path("extensions"), "extensions %v are not implemented; their nodes are ignored", pol.Extensions)
		}
	}
	m.take("from-device-policy")
	m.take("to-device-policy")
	p.ignored(m)
	return nil
}

// ignored warns about the members of n nothing read: they change nothing
// where they are (header fields, ACL metadata).
func (p *parser) ignored(n *node) {
	for _, k := range n.unused() {
		p.warn(n.at+"/"+k, "not understood; ignored")
	}
	for _, k := range n.ext {
		p.warn(n.at+"/"+k, "from an extension; ignored%s", p.undeclared())
	}
}

func (p *parser) undeclared() string {
	if p.declared {
		return ""
	}
	return " (and the file declares no extensions, as RFC 8520 section 3.9 requires)"
}

func clamp(n, lo, hi int64) int64 {
	return max(lo, min(hi, n))
}

type aclRef struct{ name, at string }

func (p *parser) policyACLs(m *node, key string) ([]aclRef, error) {
	v, ok := m.fields[key]
	if !ok {
		return nil, nil
	}
	pol, err := p.node(m.path(key), v.val)
	if err != nil {
		return nil, err
	}
	alv, ok := pol.take("access-lists")
	if !ok {
		p.warn(pol.at, "names no access list")
		p.ignored(pol)
		return nil, nil
	}
	al, err := p.node(pol.path("access-lists"), alv)
	if err != nil {
		return nil, err
	}
	p.ignored(pol)
	listv, ok := al.take("access-list")
	if !ok {
		p.warn(al.at, "names no access list")
		p.ignored(al)
		return nil, nil
	}
	list, ok := listv.([]any)
	if !ok {
		return nil, fail(al.path("access-list"), "not a list")
	}
	p.ignored(al)
	var names []aclRef
	for i, e := range list {
		at := fmt.Sprintf("%s[%d]", al.path("access-list"), i)
		en, err := p.node(at, e)
		if err != nil {
			return nil, err
		}
		n, err := p.name(en, "acl-name")
		if err != nil {
			return nil, err
		}
		p.ignored(en)
		names = append(names, aclRef{n, at})
	}
	if len(names) == 0 {
		p.warn(al.at, "names no access list")
	}
	return names, nil
}

// name reads a list entry's name, or its pre-RFC key.
func (p *parser) name(n *node, preRFC string) (string, error) {
	s, ok, err := n.str("name")
	if !ok && err == nil {
		if s, ok, err = n.str(preRFC); ok && err == nil {
			p.warn(n.at, "pre-RFC key %s read as name", preRFC)
		}
	}
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fail(n.at, "has no name")
	}
	return s, nil
}

type aclDef struct {
	at      string
	entries []aceDef
	used    bool
}

// aceDef is an entry as its access list defines it, before a policy names
// the list.
type aceDef struct {
	Entry
	srcDNS, dstDNS bool
	gateway        bool // its peer is the gateway controller
}

// aclFamily reads an ACL type (RFC 8519 identities, and the names older
// files use).
func (p *parser) aclFamily(at, typ string) int {
	if typ == "" {
		return 0
	}
	_, t := local(typ)
	switch t {
	case "ipv4-acl-type", "mixed-eth-ipv4-acl-type":
		return 4
	case "ipv6-acl-type", "mixed-eth-ipv6-acl-type":
		return 6
	case "eth-acl-type", "mixed-eth-ipv4-ipv6-acl-type":
		return 0
	case "ipv4", "ipv4-acl":
		p.warn(at, "type %q is not an RFC 8519 ACL type; read as ipv4-acl-type", typ)
		return 4
	case "ipv6", "ipv6-acl":
		p.warn(at, "type %q is not an RFC 8519 ACL type; read as ipv6-acl-type", typ)
		return 6
	}
	p.warn(at, "type %q is not an RFC 8519 ACL type; each entry's own matches decide", typ)
	return 0
}

func (p *parser) acls(top *node) (map[string]*aclDef, []string, error) {
	v, ok := top.take("acls")
	key := "acls"
	if !ok {
		if v, ok = top.take("access-lists"); ok {
			key = "access-lists"
			p.warn(top.path(key), "pre-RFC name for ietf-access-control-list:acls")
		}
	}
	p.ignored(top)
	out := map[string]*aclDef{}
	if !ok {
		p.warn("", "no ietf-access-control-list:acls: the file defines no access list")
		return out, nil, nil
	}
	o, err := p.node(top.path(key), v)
	if err != nil {
		return nil, nil, err
	}
	listv, ok := o.take("acl")
	if !ok {
		p.ignored(o)
		p.warn(o.at, "defines no access list")
		return out, nil, nil
	}
	list, ok := listv.([]any)
	if !ok {
		return nil, nil, fail(o.path("acl"), "not a list")
	}
	p.ignored(o)
	var order []string
	total, kept := 0, 0
	firstIgnored := ""
	for i, a := range list {
		at := fmt.Sprintf("%s[%d]", o.path("acl"), i)
		an, err := p.node(at, a)
		if err != nil {
			return nil, nil, err
		}
		name, err := p.name(an, "acl-name")
		if err != nil {
			return nil, nil, err
		}
		if _, dup := out[name]; dup {
			return nil, nil, fail(at, "access list %q is defined twice", name)
		}
		typ, ok, err := an.str("type")
		if err == nil && !ok {
			typ, _, err = an.str("acl-type")
		}
		if err != nil {
			return nil, nil, err
		}
		fam := p.aclFamily(at, typ)
		acesv, ok := an.take("aces")
		if !ok {
			acesv, ok = an.take("access-list-entries")
		}
		if !ok {
			return nil, nil, fail(at, "aces is missing")
		}
		aces, err := p.node(at+"/aces", acesv)
		if err != nil {
			return nil, nil, err
		}
		entriesv, _ := aces.take("ace")
		entries, ok := entriesv.([]any)
		if !ok {
			return nil, nil, fail(at, "aces/ace is missing or not a list")
		}
		p.ignored(aces)
		p.ignored(an)
		def := &aclDef{at: at}
		seen := map[string]bool{}
		for j, e := range entries {
			total++
			if total > maxACEs {
				return nil, nil, fail(at, "more than %d access-control entries", maxACEs)
			}
			d, err := p.ace(fmt.Sprintf("%s/ace[%d]", aces.at, j), name, fam, e)
			if err != nil {
				return nil, nil, err
			}
			if seen[d.ACE] {
				p.warn(d.Path, "entry name %q is used twice in access list %q, whose entries it should tell apart", d.ACE, name)
			}
			seen[d.ACE] = true
			if len(d.Rules) > 0 {
				kept++
			} else if firstIgnored == "" {
				firstIgnored = d.Path + ": " + d.Ignored
			}
			def.entries = append(def.entries, d)
		}
		out[name] = def
		order = append(order, name)
	}
	if total > 0 && kept == 0 {
		// A file none of whose entries can be enforced grants nothing;
		// calling it understood would hide that (pre-RFC drafts look like
		// this).
		return nil, nil, fail("", "none of its %d access-control entries can be enforced (first: %s)", total, firstIgnored)
	}
	return out, order, nil
}
