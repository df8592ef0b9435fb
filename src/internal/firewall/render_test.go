package firewall

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// hub is a controller for the corpus's my-controller and controller
// matches to compile to something.
var hub = []config.Controller{{Name: "hub",
	Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.20/32"), netip.MustParsePrefix("2001:db8::/64")},
	MUDURLs:   []string{"https://maker.example/bulb.json"}, Classes: []string{"https://maker.example/relay"}}}

func TestRender(t *testing.T) {
	got, err := Render(webPolicy, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"# https://maker.example/web,\n# in segment \"lan\" (MAC 02:00:00:00:00:01)",
		"e1o and d0o judge\n# what it sends",
		"table inet trustjoin {\n",
		"\tmap dev_out {\n\t\ttype ether_addr : verdict\n\t\telements = { 02:00:00:00:00:01 : jump e1o }\n\t}\n",
		"\tchain d0o {\n\t\tcounter name \"c1t\"\n",
		"\t\tmeta nfproto ipv4 meta l4proto tcp ip daddr 10.77.9.2 th dport 80 return\n",
		"\tchain e1o {\n\t\tgoto d0o\n\t}\n",
		"\tchain s0_0 {\n\t\toifname @s0_0r return\n\t\toifname != @lan return\n\t\tdrop\n\t}\n",
		"table bridge trustjoin {\n",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q", w)
		}
	}
	// One slot: no chains of other devices.
	if strings.Contains(got, "chain d1o") {
		t.Error("renders chains of slots no device uses")
	}
	// The same input renders the same way.
	again, _ := Render(webPolicy, RenderOptions{})
	if again != got {
		t.Error("two renderings of one policy differ")
	}
	if t.Failed() {
		t.Log(got)
	}
}

func TestRenderRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    *mud.Policy
		o    RenderOptions
	}{
		{"no policy", nil, RenderOptions{}},
		{"unknown segment", webPolicy, RenderOptions{Segment: "iot"}},
		{"bad segments", webPolicy, RenderOptions{Segments: []Segment{{Name: "a", Ifaces: []string{"br0"}}, {Name: "b", Ifaces: []string{"br0"}}}}},
		{"bad MAC", webPolicy, RenderOptions{MAC: []byte{1, 2}}},
	} {
		if _, err := Render(tt.p, tt.o); err == nil {
			t.Errorf("%s: rendered", tt.name)
		} else if tt.p != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v is not ErrInvalid", tt.name, err)
		}
	}
}

func TestExplain(t *testing.T) {
	p := &mud.Policy{URL: "https://maker.example/bulb.json",
		FromDevice: []mud.Rule{
			{ACL: "from", ACE: "cloud", Family: 4, Protocol: protoTCP, DstDNS: "cloud.example", DstPorts: &mud.Ports{Lo: 443, Hi: 443}, Accept: true},
			{ACL: "from", ACE: "hub", Protocol: -1, Peer: mud.PeerMyController, Accept: true},
			{ACL: "from", ACE: "nothing", Family: 4, Protocol: protoTCP, Peer: mud.PeerController, PeerValue: "https://other.example", Accept: true},
		},
		ToDevice: []mud.Rule{{ACL: "to", ACE: "no-ssh", Family: 4, Protocol: protoTCP, DstPorts: &mud.Ports{Lo: 22, Hi: 22}}},
	}
	got, err := Explain(p, RenderOptions{Controllers: hub})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ace    string
		chains []string
	}{
		{"cloud", []string{"inet from device"}}, // names: internet only
		{"hub", []string{"inet from device", "inet from device", "bridge from device", "bridge from device"}}, // each address
		{"nothing", nil},
		{"no-ssh", []string{"inet to device", "bridge to device"}},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		var chains []string
		for _, r := range got[i].Rules {
			chains = append(chains, r.Chain)
		}
		if got[i].ACE != w.ace || strings.Join(chains, ",") != strings.Join(w.chains, ",") {
			t.Errorf("entry %d: %s in %v, want %s in %v", i, got[i].ACE, chains, w.ace, w.chains)
		}
	}
	if r := got[0].Rules[0].Rule; !strings.Contains(r, "th dport 443") || !strings.HasSuffix(r, " return") {
		t.Errorf("cloud rule %q", r)
	}
	if r := got[3].Rules[0].Rule; !strings.HasSuffix(r, `counter name "c1x" drop`) || got[3].FromDevice || got[3].Accept {
		t.Errorf("no-ssh %+v", got[3])
	}
}

// TestCheckNarrowCorpus: no rule compiled from a corpus file matches
// more than its accept entry, or less than its drop entry.
func TestCheckNarrowCorpus(t *testing.T) {
	for _, p := range corpusPolicies(t) {
		if err := CheckNarrow(p, RenderOptions{Controllers: hub}); err != nil {
			t.Errorf("%s: %v", p.URL, err)
		}
	}
}

// TestCheckNarrowCatches: the check fails a rule that lacks one of its
// entry's matches (accept) or adds one (drop).
func TestCheckNarrowCatches(t *testing.T) {
	d := cam(nil)
	tgt := target{fam: famINet, sd: sideOut, dev: d, ctl: hub, drop: "c1x"}
	web := webPolicy.FromDevice[0]
	full := tgt.compile(web)[0]
	without := func(r rule, k termKind) rule {
		var ts []term
		for _, x := range r.terms {
			if x.kind != k {
				ts = append(ts, x)
			}
		}
		return rule{terms: ts, verdict: r.verdict}
	}
	dropACE := web
	dropACE.Accept = false
	dropRule := tgt.compile(dropACE)[0]
	tests := []struct {
		name string
		r    mud.Rule
		x    rule
		want string // in the reason; "" passes
	}{
		{"as compiled", web, full, ""},
		{"no port", web, without(full, tPort), "lacks its destination ports"},
		{"no address", web, without(full, tAddr), "lacks its destination network"},
		{"no protocol", web, without(full, tL4Proto), "lacks its protocol"},
		{"accepts", web, rule{terms: full.terms, verdict: accept}, "does not return"},
		{"drop as compiled", dropACE, dropRule, ""},
		{"drop narrowed", dropACE, rule{terms: append(terms(lookup(lIIFName, setLAN)), dropRule.terms...), verdict: drop}, "matches less"},
		{"drop without its port drops more: fine", dropACE, without(dropRule, tPort), ""},
		{"the reply side of a TCP connection in the inet table", mud.Rule{Family: 4, Protocol: protoTCP, Direction: mud.ToDevice, Accept: true},
			mkRule(ret, ipFamily(famINet, 4), l4proto(protoTCP)), "who opens the connection"},
		{"a DNS name for the device itself", mud.Rule{Family: 4, Protocol: protoTCP, SrcDNS: "me.example", Accept: true},
			mkRule(ret, ipFamily(famINet, 4), l4proto(protoTCP)), "DNS name it gives the device"},
	}
	for _, tt := range tests {
		got := tgt.broader(tt.r, tt.x)
		if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestCheckNarrowCases: entries of every kind compile to rules no
// broader (accept) or narrower (drop) than they are, in every chain.
func TestCheckNarrowCases(t *testing.T) {
	tcp443 := &mud.Ports{Lo: 443, Hi: 443}
	var rules []mud.Rule
	for _, accept := range []bool{true, false} {
		for _, r := range []mud.Rule{
			{Family: 4, Protocol: protoTCP, DstDNS: "cloud.example", DstPorts: tcp443},
			{Family: 6, Protocol: protoUDP, SrcDNS: "cloud.example", SrcPorts: &mud.Ports{Lo: 1000, Hi: 2000}},
			{Family: 4, Protocol: protoTCP, SrcDNS: "me.example"}, // the device's own name, from the device
			{Family: 4, Protocol: protoTCP, DstNet: netip.MustParsePrefix("192.0.2.0/24"), SrcNet: netip.MustParsePrefix("10.0.0.0/8"), Direction: mud.FromDevice},
			{Family: 6, Protocol: protoTCP, Direction: mud.ToDevice, DstPorts: &mud.Ports{Lo: 22, Hi: 22, Neq: true}},
			{Protocol: -1, Peer: mud.PeerSameManufacturer},
			{Family: 4, Protocol: -1, Peer: mud.PeerManufacturer, PeerValue: "other.example"},
			{Protocol: protoUDP, Peer: mud.PeerModel, PeerValue: "https://maker.example/x.json"},
			{Family: 6, Protocol: -1, Peer: mud.PeerLocalNetworks},
			{Protocol: -1, Peer: mud.PeerMyController},
			{Family: 4, Protocol: protoTCP, Peer: mud.PeerController, PeerValue: "https://maker.example/relay"},
			{Family: 4, Protocol: -1, Peer: mud.PeerController, PeerValue: "urn:ietf:params:mud:dns"},
			{Protocol: -1, EtherType: 0x888e},
			{Family: 4, Protocol: protoICMP, ICMP: &mud.ICMP{Type: 8, Code: 0}},
			{Family: 6, Protocol: protoICMPv6, ICMP: &mud.ICMP{Type: 128, Code: -1}},
			{Family: 4, Protocol: protoICMP, ICMP: &mud.ICMP{Type: 8, Code: -1}, Peer: mud.PeerController, PeerValue: mud.ControllerGateway},
			{Family: 4, Protocol: protoTCP, DstPorts: tcp443, Peer: mud.PeerController, PeerValue: mud.ControllerGateway},
			{Protocol: -1, EtherType: ethIPv6},
			{Protocol: -1},
		} {
			r.Accept = accept
			rules = append(rules, r)
		}
	}
	for _, r := range rules {
		for _, mfr := range []string{"maker.example", ""} {
			p := &mud.Policy{URL: "https://maker.example/bulb.json", FromDevice: []mud.Rule{r}, ToDevice: []mud.Rule{r}}
			o := RenderOptions{Controllers: hub, Manufacturer: mfr}
			if mfr == "" {
				p.URL = "https:///x" // no host to take a manufacturer from
			}
			if err := CheckNarrow(p, o); err != nil {
				t.Errorf("%+v (manufacturer %q): %v", r, mfr, err)
			}
		}
	}
}

// FuzzCompileNarrow: for every file the MUD parser accepts, compiling
// never yields a rule broader than its accept entry or narrower than its
// drop entry (issue 16), and rendering works. Seeds: the corpus and
// files exercising what it lacks.
func FuzzCompileNarrow(f *testing.F) {
	doc := func(typ, aces string) string {
		return `{"ietf-mud:mud":{"mud-version":1,"mud-url":"https://maker.example/bulb.json","last-update":"2026-01-01T00:00:00Z",
		"is-supported":true,"from-device-policy":{"access-lists":{"access-list":[{"name":"a"}]}},
		"to-device-policy":{"access-lists":{"access-list":[{"name":"a"}]}}},
		"ietf-access-control-list:acls":{"acl":[{"name":"a","type":"` + typ + `","aces":{"ace":[` + aces + `]}}]}}`
	}
	for _, s := range []string{
		doc("ipv4-acl-type", `{"name":"e","matches":{"icmp":{"type":8,"code":0}},"actions":{"forwarding":"accept"}}`),
		doc("ipv6-acl-type", `{"name":"g","matches":{"ietf-mud:mud":{"controller":"urn:ietf:params:mud:gateway"},"icmp":{"type":128}},"actions":{"forwarding":"accept"}}`),
		doc("ipv4-acl-type", `{"name":"c","matches":{"ietf-mud:mud":{"my-controller":[null]},"tcp":{"destination-port":{"port":80},"ietf-mud:direction-initiated":"from-device"}},"actions":{"forwarding":"accept"}}`),
		doc("ipv4-acl-type", `{"name":"d","matches":{"ipv4":{"ietf-acldns:dst-dnsname":"cloud.example","ietf-acldns:src-dnsname":"me.example"},"tcp":{}},"actions":{"forwarding":"accept"}}`),
		doc("ipv6-acl-type", `{"name":"m","matches":{"ietf-mud:mud":{"same-manufacturer":[null]}},"actions":{"forwarding":"drop"}},{"name":"l","matches":{"ietf-mud:mud":{"local-networks":[null]},"udp":{"source-port":{"operator":"neq","port":53}}},"actions":{"forwarding":"accept"}}`),
		doc("eth-acl-type", `{"name":"x","matches":{"eth":{"ethertype":34958}},"actions":{"forwarding":"accept"}}`),
	} {
		f.Add([]byte(s))
	}
	_ = filepath.WalkDir(corpus, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasSuffix(p, ".json") {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := mud.Parse(b, 0)
		if err != nil {
			return
		}
		o := RenderOptions{Controllers: hub}
		if err := CheckNarrow(p, o); err != nil {
			t.Fatal(err)
		}
		if _, err := Render(p, o); err != nil {
			t.Fatalf("an accepted file does not render: %v", err)
		}
	})
}
