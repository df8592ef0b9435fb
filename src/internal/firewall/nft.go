package firewall

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The rule model and batches in nft syntax, one term for each match or
// statement the applier sends (nft.go and expr_linux.go translate the same
// model): `nft -f` loads what ruleset prints, and `nft list` then shows
// what the applier installs for the same state (TestRenderMatchesKernel).

// nft renders a rule in a table of family fam as nft prints rules.
func (r rule) nft(fam family) string {
	var parts []string
	for _, t := range r.terms {
		parts = append(parts, t.nft(fam))
	}
	if v := r.verdict.String(); v != "" {
		parts = append(parts, v)
	}
	return strings.Join(parts, " ")
}

func (v verdict) String() string {
	switch v.kind {
	case vAccept:
		return "accept"
	case vDrop:
		return "drop"
	case vReturn:
		return "return"
	case vJump:
		return "jump " + v.chain
	case vGoto:
		return "goto " + v.chain
	}
	return ""
}

func (t term) nft(fam family) string {
	switch t.kind {
	case tNFProto:
		return "meta nfproto ipv" + strconv.Itoa(t.v)
	case tEtherType:
		return "meta protocol " + etherTypeName(t.num)
	case tL4Proto:
		return "meta l4proto " + protoName(t.num)
	case tAddr:
		a := t.pfx.Addr().String()
		if t.pfx.Bits() != t.pfx.Addr().BitLen() {
			a = t.pfx.String()
		}
		return t.addrField() + " " + a
	case tPort:
		f := "th dport "
		if t.src {
			f = "th sport "
		}
		switch {
		case t.neq:
			return f + "!= " + strconv.Itoa(int(t.lo))
		case t.lo == t.hi:
			return f + strconv.Itoa(int(t.lo))
		}
		return f + strconv.Itoa(int(t.lo)) + "-" + strconv.Itoa(int(t.hi))
	case tICMPType, tICMPCode:
		f := "icmp "
		if t.v == 6 {
			f = "icmpv6 "
		}
		if t.kind == tICMPCode {
			f += "code "
		} else {
			f += "type "
		}
		if t.lo == t.hi {
			return f + strconv.Itoa(int(t.lo))
		}
		return f + strconv.Itoa(int(t.lo)) + "-" + strconv.Itoa(int(t.hi))
	case tLookup:
		if t.invert {
			return t.loadName(fam) + " != @" + t.set
		}
		return t.loadName(fam) + " @" + t.set
	case tVmap:
		return t.loadName(fam) + " vmap @" + t.set
	case tCtState:
		var s []string
		for _, b := range []struct {
			bit  uint32
			name string
		}{{ctEstablished, "established"}, {ctRelated, "related"}, {ctNew, "new"}} {
			if t.num&b.bit != 0 {
				s = append(s, b.name)
			}
		}
		return "ct state " + strings.Join(s, ",")
	case tNotSynOnly:
		return "tcp flags & (syn|ack) != syn"
	case tFibLocal:
		return "fib daddr . iif type local"
	case tLearn:
		return "update @" + t.set + " { " + (term{kind: tAddr, v: t.v, src: true}).addrField() + " : " + (term{load: lEther, src: true}).loadName(fam) + " }"
	case tCounter:
		if t.set == "" {
			return "counter"
		}
		return `counter name "` + t.set + `"`
	case tPktTypeNot:
		return "meta pkttype != " + map[uint32]string{pktBroadcast: "broadcast", pktMulticast: "multicast"}[t.num]
	case tLimit:
		return fmt.Sprintf("limit rate %d/second burst %d packets", t.num, t.lo)
	case tLog:
		s := fmt.Sprintf("log prefix %q group %d", t.set, t.num)
		if t.lo > 0 {
			s += fmt.Sprintf(" snaplen %d", t.lo)
		}
		return s
	}
	return "?"
}

func (t term) addrField() string {
	f := "ip "
	if t.v == 6 {
		f = "ip6 "
	}
	if t.src {
		return f + "saddr"
	}
	return f + "daddr"
}

// loadName is the key a lookup or verdict map looks up. Outside the
// bridge table "ether saddr" stands for a check that the packet came in
// on an Ethernet interface and then its source MAC, as nft reads and
// prints it (the applier installs both, expr_linux.go).
func (t term) loadName(fam family) string {
	switch t.load {
	case lIIFName:
		return "iifname"
	case lOIFName:
		return "oifname"
	case lIBRName:
		return "meta ibrname"
	case lEther:
		if t.src {
			return "ether saddr"
		}
		return "ether daddr"
	}
	return t.addrField()
}

func etherTypeName(t uint32) string {
	switch t {
	case ethIPv4:
		return "ip"
	case ethIPv6:
		return "ip6"
	case ethARP:
		return "arp"
	}
	return fmt.Sprintf("0x%04x", t)
}

func protoName(p uint32) string {
	switch p {
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	case protoICMP:
		return "icmp"
	case protoICMPv6:
		return "ipv6-icmp"
	}
	return strconv.Itoa(int(p))
}

// elemString renders an element of set s.
func (s *setSpec) elemString(e elem) string {
	k := keyString(s.key, e.key)
	switch {
	case e.jump != "":
		k += " : jump " + e.jump
	case len(e.val) > 0:
		k += " : " + keyString(s.data, e.val)
	}
	if e.timeout > 0 {
		k += " timeout " + durationString(e.timeout)
	}
	return k
}

func keyString(t keyType, b []byte) string {
	switch t {
	case kIfname:
		return strconv.Quote(strings.TrimRight(string(b), "\x00"))
	case kEther:
		return net.HardwareAddr(b).String()
	case kIPv4, kIPv6:
		a, _ := netip.AddrFromSlice(b)
		return a.String()
	}
	return fmt.Sprintf("%x", b)
}

var keyTypeNames = map[keyType]string{kIfname: "ifname", kEther: "ether_addr", kIPv4: "ipv4_addr", kIPv6: "ipv6_addr", kVerdict: "verdict"}

// durationString renders a timeout as nft reads it: 1h2m3s, down to
// whole seconds (nft takes milliseconds, but the kernel keeps timeouts
// in its own ticks).
func durationString(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "1s"
	}
	var b strings.Builder
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	return b.String()
}

// declaration renders a set's declaration, elements included: its
// header and body lines.
func (s *setSpec) declaration(el []elem) (head string, body []string) {
	kind := "set"
	typ := keyTypeNames[s.key]
	if s.data != 0 {
		kind = "map"
		typ += " : " + keyTypeNames[s.data]
	}
	body = append(body, "type "+typ)
	if s.size > 0 {
		body = append(body, fmt.Sprintf("size %d", s.size))
	}
	var flags []string
	if s.dynamic {
		flags = append(flags, "dynamic")
	}
	if s.timeout {
		flags = append(flags, "timeout")
	}
	if len(flags) > 0 {
		body = append(body, "flags "+strings.Join(flags, ","))
	}
	if s.defTimeout > 0 {
		body = append(body, "timeout "+durationString(s.defTimeout))
	}
	if len(el) > 0 {
		var items []string
		for _, e := range el {
			items = append(items, s.elemString(e))
		}
		body = append(body, "elements = { "+strings.Join(items, ", ")+" }")
	}
	return kind + " " + s.name, body
}

func (h *hook) String() string {
	name := map[hookKind]string{hookForward: "forward", hookInput: "input", hookOutput: "output"}[h.hook]
	return fmt.Sprintf("type filter hook %s priority %d; policy accept;", name, h.prio)
}

// script renders the batch as nft commands, one operation a line, as
// `nft -f` would take them (a trimmed chain, which needs the rules'
// handles, is a comment).
func (b *batch) script() string {
	var out strings.Builder
	for _, o := range b.ops {
		out.WriteString(o.command(b.table))
		out.WriteByte('\n')
	}
	return out.String()
}

func (o op) command(table string) string {
	on := o.fam.String() + " " + table
	switch o.kind {
	case opAddTable:
		return "add table " + on
	case opDelTable:
		return "delete table " + on
	case opAddChain:
		if o.hook != nil {
			return "add chain " + on + " " + o.name + " { " + o.hook.String() + " }"
		}
		return "add chain " + on + " " + o.name
	case opFlushChain:
		return "flush chain " + on + " " + o.name
	case opDelChain:
		return "delete chain " + on + " " + o.name
	case opTrimChain:
		return "# delete every rule of chain " + on + " " + o.name + " but the first"
	case opAddRule:
		return "add rule " + on + " " + o.name + " " + o.rule.nft(o.fam)
	case opInsertRule:
		return "insert rule " + on + " " + o.name + " " + o.rule.nft(o.fam)
	case opAddSet:
		head, body := o.set.declaration(o.elems)
		kind, name, _ := strings.Cut(head, " ")
		return "add " + kind + " " + on + " " + name + " { " + strings.Join(body, "; ") + "; }"
	case opFlushSet:
		return "flush set " + on + " " + o.name
	case opDelSet:
		return "delete set " + on + " " + o.name
	case opAddElems, opDelElems:
		var items []string
		for _, e := range o.elems {
			items = append(items, o.set.elemString(e))
		}
		verb := "add"
		if o.kind == opDelElems {
			verb = "delete"
		}
		return verb + " element " + on + " " + o.name + " { " + strings.Join(items, ", ") + " }"
	case opAddCounter:
		return "add counter " + on + " " + o.name
	case opDelCounter:
		return "delete counter " + on + " " + o.name
	}
	return "# ?"
}

// tableText is one table as a ruleset builds it from adding batches.
type tableText struct {
	fam      family
	counters []string
	// values are the counters' packets and bytes by name (none: 0).
	values map[string][2]uint64
	sets   []*setSpec
	elems  map[string][]elem
	chains []string
	hooks  map[string]*hook
	rules  map[string][]rule
}

// ruleset renders what the batches add, applied in order to no tables,
// as nft prints a ruleset: tables, their counters, sets with their
// elements and chains with their rules. Only batches that add (and
// flush what they added) can be rendered so, as a fresh install does;
// others are refused.
func ruleset(bs ...*batch) (string, error) { return countedRuleset(nil, bs...) }

// countedRuleset is ruleset with the counters' values, by family and
// name ("inet c1t"), as the kernel has them.
func countedRuleset(values map[string][2]uint64, bs ...*batch) (string, error) {
	var tables []*tableText
	name := ""
	for _, b := range bs {
		if name == "" {
			name = b.table
		}
		for _, o := range b.ops {
			var t *tableText
			for _, x := range tables {
				if x.fam == o.fam {
					t = x
				}
			}
			switch {
			case t == nil && o.kind == opAddTable:
				tables = append(tables, &tableText{fam: o.fam, values: map[string][2]uint64{}, elems: map[string][]elem{}, hooks: map[string]*hook{}, rules: map[string][]rule{}})
			case t == nil:
				return "", fmt.Errorf("%s on table %s %s before it was added", o.command(b.table), o.fam, name)
			default:
				if err := t.apply(o); err != nil {
					return "", fmt.Errorf("%w: %s", err, o.command(b.table))
				}
			}
		}
	}
	var out strings.Builder
	for _, t := range tables {
		for k, v := range values {
			if f, n, _ := strings.Cut(k, " "); f == t.fam.String() {
				t.values[n] = v
			}
		}
		t.print(&out, name)
	}
	return out.String(), nil
}

// apply adds what one operation adds to the table.
func (t *tableText) apply(o op) error {
	switch o.kind {
	case opAddTable:
	case opAddCounter:
		if !slices.Contains(t.counters, o.name) {
			t.counters = append(t.counters, o.name)
		}
	case opAddSet:
		if !slices.ContainsFunc(t.sets, func(s *setSpec) bool { return s.name == o.name }) {
			t.sets = append(t.sets, o.set)
		}
		t.elems[o.name] = append(t.elems[o.name], o.elems...)
	case opAddElems:
		t.elems[o.name] = append(t.elems[o.name], o.elems...)
	case opFlushSet:
		t.elems[o.name] = nil
	case opAddChain:
		if !slices.Contains(t.chains, o.name) {
			t.chains = append(t.chains, o.name)
		}
		if o.hook != nil {
			t.hooks[o.name] = o.hook
		}
	case opAddRule:
		t.rules[o.name] = append(t.rules[o.name], o.rule)
	case opInsertRule:
		t.rules[o.name] = append([]rule{o.rule}, t.rules[o.name]...)
	case opFlushChain:
		t.rules[o.name] = nil
	default:
		return fmt.Errorf("not a fresh install")
	}
	return nil
}

func (t *tableText) print(out *strings.Builder, name string) {
	fmt.Fprintf(out, "table %s %s {\n", t.fam, name)
	for _, c := range t.counters {
		v := t.values[c]
		fmt.Fprintf(out, "\tcounter %s {\n\t\tpackets %d bytes %d\n\t}\n\n", c, v[0], v[1])
	}
	for _, s := range t.sets {
		head, body := s.declaration(t.elems[s.name])
		fmt.Fprintf(out, "\t%s {\n", head)
		for _, l := range body {
			fmt.Fprintf(out, "\t\t%s\n", l)
		}
		out.WriteString("\t}\n\n")
	}
	for i, c := range t.chains {
		if i > 0 {
			out.WriteString("\n")
		}
		fmt.Fprintf(out, "\tchain %s {\n", c)
		if h := t.hooks[c]; h != nil {
			fmt.Fprintf(out, "\t\t%s\n", h)
		}
		for _, r := range t.rules[c] {
			fmt.Fprintf(out, "\t\t%s\n", r.nft(t.fam))
		}
		out.WriteString("\t}\n")
	}
	out.WriteString("}\n")
}
