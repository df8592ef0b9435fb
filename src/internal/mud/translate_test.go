package mud_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/trustjoin/trustjoin/src/internal/mud"
	"github.com/trustjoin/trustjoin/src/internal/mud/mudtest"
)

// docTyped wraps ACEs into a MUD file with one from-device ACL of the
// given type.
func docTyped(typ, aces string) string {
	return strings.Replace(doc(aces), `"type":"ipv4-acl-type"`, `"type":"`+typ+`"`, 1)
}

// accept and drop are ACEs with the given matches.
func accept(name, matches string) string {
	return `{"name":"` + name + `","matches":{` + matches + `},"actions":{"forwarding":"accept"}}`
}

func drop(name, matches string) string {
	return `{"name":"` + name + `","matches":{` + matches + `},"actions":{"forwarding":"drop"}}`
}

var cmpRule = []cmp.Option{cmpopts.EquateComparable(netip.Prefix{})}

func parseOK(t *testing.T, file string) *mud.Policy {
	t.Helper()
	p, err := mud.Parse([]byte(file), 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tcp(port int) *mud.Ports { return &mud.Ports{Lo: uint16(port), Hi: uint16(port)} }

// Item 1: one node given qualified and unqualified with different values
// has no single meaning: refused, never settled by Go's map order. With
// the same value it is accepted with a warning; and the same bytes always
// give the same policy.
func TestTwoFormsOfOneNode(t *testing.T) {
	differ := doc(accept("a", `"ipv4":{"dst-dnsname":"a.example","ietf-acldns:dst-dnsname":"b.example"}`))
	for i := 0; i < 20; i++ {
		if _, err := mud.Parse([]byte(differ), 0); err == nil || !strings.Contains(err.Error(), `"dst-dnsname" and "ietf-acldns:dst-dnsname" are one node given twice, with different values`) {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	same := doc(accept("a", `"ipv4":{"dst-dnsname":"a.example","ietf-acldns:dst-dnsname":"a.example"},"tcp":{"destination-port":{"port":443},"ietf-packet-fields:destination-port":{"port":443}}`))
	p := parseOK(t, same)
	if len(p.FromDevice) != 1 || p.FromDevice[0].DstDNS != "a.example" || !strings.Contains(strings.Join(p.Warnings, "\n"), "given twice (with the same value)") {
		t.Fatalf("rules %+v, warnings %q", p.FromDevice, p.Warnings)
	}
	// Every map the parser walks, walked many times: one policy.
	busy := doc(accept("a", `"ipv4":{"protocol":6,"dst-dnsname":"a.example","dscp":1,"ttl":3,"ecn":1},"tcp":{"flags":"syn","destination-port":{"port":1},"window-size":3}`) +
		"," + drop("b", `"ipv4":{"dscp":1,"ttl":3,"length":4,"ietf-acldns:dst-dnsname":"b.example"},"tcp":{"flags":"syn","urgent-pointer":1}`))
	first := parseOK(t, busy)
	for i := 0; i < 50; i++ {
		if diff := cmp.Diff(first, parseOK(t, busy), cmpRule...); diff != "" {
			t.Fatalf("run %d differs (-first +now):\n%s", i, diff)
		}
	}
}

// Item 2: a drop that is not fully understood makes the policy stricter:
// it drops without the part not understood, so the broader accept after it
// cannot let through what the maker meant to drop. An accept not fully
// understood grants nothing.
func TestNeverFailOpen(t *testing.T) {
	after := accept("all-tcp", `"tcp":{}`)
	tests := []struct {
		name, matches string
		want          mud.Rule // the drop as enforced
	}{
		{"unknown ipv4 leaf", `"ipv4":{"dscp":46},"tcp":{"destination-port":{"port":23}}`,
			mud.Rule{Family: 4, Protocol: 6, DstPorts: tcp(23)}},
		{"unknown tcp leaf", `"tcp":{"flags":"syn","destination-port":{"port":23}}`,
			mud.Rule{Family: 4, Protocol: 6, DstPorts: tcp(23)}},
		{"mac address", `"eth":{"destination-mac-address":"ff:ff:ff:ff:ff:ff"},"tcp":{"destination-port":{"port":23}}`,
			mud.Rule{Family: 4, Protocol: 6, DstPorts: tcp(23)}},
		{"unknown standard match", `"egress-interface":"eth0","tcp":{"destination-port":{"port":23}}`,
			mud.Rule{Family: 4, Protocol: 6, DstPorts: tcp(23)}},
		{"extension match only", `"ietf-acl-tls:client-profiles":{"tls-dtls-profile":[]}`,
			mud.Rule{Family: 4, Protocol: -1}},
		{"icmp rest-of-header", `"icmp":{"type":8,"rest-of-header":"AAAA"}`,
			mud.Rule{Family: 4, Protocol: 1, ICMP: &mud.ICMP{Type: 8, Code: -1}}},
		{"protocol 0", `"ipv4":{"protocol":0,"destination-ipv4-network":"192.0.2.0/24"}`,
			mud.Rule{Family: 4, Protocol: -1, DstNet: netip.MustParsePrefix("192.0.2.0/24")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parseOK(t, doc(drop("d", tt.matches)+","+after))
			if len(p.FromDevice) != 2 || p.FromDevice[0].Accept || !p.FromDevice[1].Accept {
				t.Fatalf("the drop is not kept before the accept: %+v", p.FromDevice)
			}
			if diff := cmp.Diff(tt.want, p.FromDevice[0], append(cmpRule, cmpopts.IgnoreFields(mud.Rule{}, "ACL", "ACE"))...); diff != "" {
				t.Errorf("drop (-want +got):\n%s", diff)
			}
			if e := p.Entries[0]; e.Ignored != "" || len(e.Notes) == 0 {
				t.Errorf("the drop's entry says nothing of what it does: %+v", e)
			}
			// The same match in an accept grants nothing, with the reason.
			p = parseOK(t, doc(accept("a", tt.matches)+","+after))
			if len(p.FromDevice) != 1 || p.Entries[0].Ignored == "" {
				t.Errorf("accept not understood still grants: %+v, %+v", p.FromDevice, p.Entries[0])
			}
		})
	}
}

// Item 3: ICMP type and code are part of the rule, in the family of the
// entry (ICMPv6 in an IPv6 match, whatever the order of the keys).
func TestICMP(t *testing.T) {
	// Each file ends with an accept of TCP (Family from the list's type),
	// so a file whose ICMP entry grants nothing is still accepted.
	tests := []struct {
		name, typ, matches string
		want               []mud.Rule
		ignored            bool
	}{
		{"v4 echo", "ipv4-acl-type", `"icmp":{"type":8,"code":0}`,
			[]mud.Rule{{Family: 4, Protocol: 1, ICMP: &mud.ICMP{Type: 8, Code: 0}, Accept: true}, {Family: 4, Protocol: 6, Accept: true}}, false},
		{"v6 echo, match before family", "eth-acl-type", `"icmp":{"type":128},"ipv6":{"destination-ipv6-network":"2001:db8::/32"}`,
			[]mud.Rule{{Family: 6, Protocol: 58, ICMP: &mud.ICMP{Type: 128, Code: -1}, DstNet: netip.MustParsePrefix("2001:db8::/32"), Accept: true}, {Protocol: 6, Accept: true}}, false},
		{"v6 list", "ipv6-acl-type", `"icmp":{"code":4}`,
			[]mud.Rule{{Family: 6, Protocol: 58, ICMP: &mud.ICMP{Type: -1, Code: 4}, Accept: true}, {Family: 6, Protocol: 6, Accept: true}}, false},
		{"any icmp, no family: both", "eth-acl-type", `"icmp":{}`,
			[]mud.Rule{{Family: 4, Protocol: 1, Accept: true}, {Family: 6, Protocol: 58, Accept: true}, {Protocol: 6, Accept: true}}, false},
		{"typed icmp, no family: ambiguous, grants nothing", "eth-acl-type", `"icmp":{"type":8}`,
			[]mud.Rule{{Protocol: 6, Accept: true}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parseOK(t, docTyped(tt.typ, accept("a", tt.matches)+","+accept("b", `"tcp":{}`)))
			if diff := cmp.Diff(tt.want, p.FromDevice, append(cmpRule, cmpopts.IgnoreFields(mud.Rule{}, "ACL", "ACE"))...); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			if (p.Entries[0].Ignored != "") != tt.ignored {
				t.Errorf("entry %+v", p.Entries[0])
			}
		})
	}
	for _, bad := range []struct{ matches, want string }{
		{`"icmp":{"type":256}`, "want a number from 0 to 255"},
		{`"ipv4":{"protocol":58},"icmp":{"type":8}`, "the IP protocol is 58"},
		{`"icmp":{},"udp":{}`, "more than one of tcp, udp and icmp"},
	} {
		if _, err := mud.Parse([]byte(doc(accept("a", bad.matches))), 0); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %q", bad.matches, err, bad.want)
		}
	}
	// A typed drop without a family drops the type in both.
	p := parseOK(t, docTyped("eth-acl-type", drop("d", `"icmp":{"type":8}`)+","+accept("a", `"tcp":{}`)))
	if len(p.FromDevice) != 3 || p.FromDevice[0].Protocol != 1 || p.FromDevice[1].Protocol != 58 || p.FromDevice[1].ICMP.Type != 8 {
		t.Errorf("rules %+v", p.FromDevice)
	}
}

// Item 4: every leaf may be qualified with its module, as RFC 7951 allows
// and files do; the qualified form means what the plain one does.
func TestQualifiedLeaves(t *testing.T) {
	want := mud.Rule{Family: 4, Protocol: 17, SrcPorts: &mud.Ports{Lo: 1024, Hi: 65535}, DstPorts: tcp(53),
		DstNet: netip.MustParsePrefix("192.0.2.0/24"), Accept: true}
	for _, matches := range []string{
		`"ipv4":{"protocol":17,"destination-ipv4-network":"192.0.2.0/24"},"udp":{"source-port":{"operator":"gte","port":1024},"destination-port":{"port":53}}`,
		`"ipv4":{"ietf-access-control-list:protocol":17,"destination-ipv4-network":"192.0.2.0/24"},"udp":{"source-port":{"operator":"gte","port":1024},"destination-port":{"port":53}}`,
		`"ietf-access-control-list:ipv4":{"ietf-packet-fields:protocol":"17","ietf-access-control-list:destination-ipv4-network":"192.0.2.0/24"},` +
			`"ietf-access-control-list:udp":{"ietf-access-control-list:source-port":{"ietf-packet-fields:operator":"gte","ietf-packet-fields:port":1024},"destination-port":{"ietf-packet-fields:port":53}}`,
	} {
		p := parseOK(t, doc(`{"name":"a","ietf-access-control-list:matches":{`+matches+`},"ietf-access-control-list:actions":{"ietf-access-control-list:forwarding":"ietf-access-control-list:accept"}}`))
		if len(p.FromDevice) != 1 {
			t.Fatalf("%s: rules %+v", matches, p.FromDevice)
		}
		if diff := cmp.Diff(want, p.FromDevice[0], append(cmpRule, cmpopts.IgnoreFields(mud.Rule{}, "ACL", "ACE"))...); diff != "" {
			t.Errorf("%s (-want +got):\n%s", matches, diff)
		}
	}
}

// Item 5: protocol 0 is the Hop-by-Hop Options header (the YANG's
// next-header): no packet has it as its transport protocol. An accept with
// it matches nothing and is said to; a drop with it drops any protocol.
func TestProtocolZero(t *testing.T) {
	p := parseOK(t, docTyped("ipv6-acl-type", accept("a", `"ipv6":{"protocol":0}`)+","+accept("b", `"tcp":{}`)))
	if len(p.FromDevice) != 1 || !strings.Contains(p.Entries[0].Ignored, "Hop-by-Hop") {
		t.Fatalf("rules %+v, entry %+v", p.FromDevice, p.Entries[0])
	}
	p = parseOK(t, docTyped("ipv6-acl-type", drop("a", `"ipv6":{"protocol":0}`)+","+accept("b", `"tcp":{}`)))
	if len(p.FromDevice) != 2 || p.FromDevice[0].Protocol != -1 || p.FromDevice[0].Accept {
		t.Fatalf("rules %+v", p.FromDevice)
	}
	if _, err := mud.Parse([]byte(doc(accept("a", `"ipv4":{"protocol":0},"tcp":{}`))), 0); err == nil {
		t.Fatal("protocol 0 with a tcp match accepted")
	}
}

// Item 6: the gateway controller is the router, and is said to be.
func TestGatewayController(t *testing.T) {
	p := parseOK(t, doc(accept("gw", `"ietf-mud:mud":{"controller":"urn:ietf:params:mud:gateway"},"icmp":{"type":8}`)))
	r := p.FromDevice[0]
	if r.Peer != mud.PeerController || r.PeerValue != mud.ControllerGateway || r.Protocol != 1 {
		t.Fatalf("rule %+v", r)
	}
	if d := r.Describe(mud.FromDevice); !strings.Contains(d, "the router") {
		t.Errorf("description %q", d)
	}
}

// Item 7: what DNS cannot carry is refused; internationalised names only
// as A-labels, with their Unicode shown.
func TestDNSNames(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, bad := range []struct{ name, want string }{
		{"a\x00b.example", "control character"},
		{"a\tb.example", "control character"},
		{"a.example\n", "control character"},
		{long + ".example", "more than the 63"},
		{strings.Repeat("abcdefghi.", 26) + "example", "more than the 253"},
		{"*.example.com", "wildcard"},
		{"аpple.com", "non-ASCII"}, // Cyrillic а
		{"a..example", "empty label"},
		{"-a.example", "hyphen"},
		{"a b.example", "space"},
		{"xn--zz-.example", "hyphen"},
		{"xn--99999999999.example", "not a valid A-label"},
	} {
		file := doc(accept("a", `"ipv4":{"dst-dnsname":`+jsonString(bad.name)+`}`))
		if _, err := mud.Parse([]byte(file), 0); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want an error about %q", bad.name, err, bad.want)
		}
	}
	p := parseOK(t, doc(accept("a", `"ipv4":{"dst-dnsname":"XN--80AK6AA92E.com."}`)))
	if r := p.FromDevice[0]; r.DstDNS != "xn--80ak6aa92e.com" {
		t.Errorf("name %q", r.DstDNS)
	}
	if n := strings.Join(p.Entries[0].Notes, "\n"); !strings.Contains(n, `"аррӏе.com"`) {
		t.Errorf("notes %q do not show the Unicode form", n)
	}
	// An address where a name may be (inet:host) is that host.
	p = parseOK(t, doc(accept("a", `"ipv4":{"dst-dnsname":"192.0.2.7"}`)))
	if r := p.FromDevice[0]; r.DstDNS != "" || r.DstNet != netip.MustParsePrefix("192.0.2.7/32") {
		t.Errorf("rule %+v", r)
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	return b.String() + `"`
}

// Item 8: a key given twice in one object is refused, wherever it is.
func TestDuplicateKeys(t *testing.T) {
	for _, file := range []string{
		doc(`{"name":"a","matches":{"tcp":{}},"actions":{"forwarding":"drop","forwarding":"accept"}}`),
		doc(`{"name":"a","matches":{"tcp":{"destination-port":{"port":22,"port":443}}},"actions":{"forwarding":"accept"}}`),
		strings.Replace(doc(accept("a", `"tcp":{}`)), `"mud-version":1`, `"mud-version":1,"mud-version":1`, 1),
	} {
		if _, err := mud.Parse([]byte(file), 0); err == nil || !strings.Contains(err.Error(), "is given twice in one object") {
			t.Errorf("%v", err)
		}
	}
}

// Tolerance: what real files do that the YANG allows or that has one clear
// meaning is accepted, each time with a warning or a note.
func TestTolerated(t *testing.T) {
	header := `{"ietf-mud:mud":{"mud-version":1,"mud-url":"https://mfg.example/x","last-update":"2024-01-01T00:00:00Z","is-supported":true`
	t.Run("no acls, no policies", func(t *testing.T) {
		p := parseOK(t, header+`}}`)
		if !p.NamesNoACL || len(p.Entries) != 0 || !strings.Contains(strings.Join(p.Warnings, "\n"), "keeps its segment's default") {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("policies naming nothing", func(t *testing.T) {
		for _, pol := range []string{`{}`, `{"access-lists":{}}`, `{"access-lists":{"access-list":[]}}`} {
			p := parseOK(t, header+`,"from-device-policy":`+pol+`,"to-device-policy":`+pol+`},"ietf-access-control-list:acls":{"acl":[]}}`)
			if !p.NamesNoACL || len(p.Warnings) == 0 {
				t.Errorf("%s: %+v", pol, p)
			}
		}
	})
	t.Run("one policy naming nothing confines", func(t *testing.T) {
		p := parseOK(t, doc(accept("a", `"tcp":{}`)))
		if p.NamesNoACL {
			t.Fatal("a file with a from-device policy does not confine")
		}
	})
	t.Run("address without prefix length", func(t *testing.T) {
		p := parseOK(t, docTyped("ipv6-acl-type", accept("a", `"ipv6":{"destination-ipv6-network":"ff05::c"}`)+","+
			accept("b", `"ipv4":{"source-ipv4-network":"8.8.8.8"}`)))
		if p.FromDevice[0].DstNet != netip.MustParsePrefix("ff05::c/128") || p.FromDevice[1].SrcNet != netip.MustParsePrefix("8.8.8.8/32") {
			t.Fatalf("rules %+v", p.FromDevice)
		}
		if !strings.Contains(strings.Join(p.Entries[0].Notes, "\n"), "no prefix length") {
			t.Errorf("notes %q", p.Entries[0].Notes)
		}
		if _, err := mud.Parse([]byte(docTyped("ipv6-acl-type", accept("a", `"ipv6":{"destination-ipv6-network":"192.168.1.1"}`))), 0); err == nil {
			t.Error("an IPv4 address in an IPv6 leaf accepted")
		}
	})
	t.Run("extension match in an accept", func(t *testing.T) {
		file := strings.Replace(doc(accept("a", `"ipv4":{"dst-dnsname":"cloud.example"},"tcp":{"destination-port":{"port":443}},`+
			`"ietf-acl-tls:client-profiles":{"tls-dtls-profile":[{"name":"p"}]}`)), `"is-supported":true`, `"is-supported":true,"extensions":["ietf-mud-tls"]`, 1)
		p := parseOK(t, file)
		want := mud.Rule{Family: 4, Protocol: 6, DstDNS: "cloud.example", DstPorts: tcp(443), Accept: true}
		if diff := cmp.Diff(want, p.FromDevice[0], append(cmpRule, cmpopts.IgnoreFields(mud.Rule{}, "ACL", "ACE"))...); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if n := strings.Join(p.Entries[0].Notes, "\n"); !strings.Contains(n, "enforced without matches/ietf-acl-tls:client-profiles") {
			t.Errorf("notes %q", n)
		}
	})
	t.Run("extension node as the only MUD match", func(t *testing.T) {
		p := parseOK(t, doc(accept("a", `"ietf-mud:mud":{"ietf-mud-ext:vendor-class":"x"}`)+","+accept("b", `"udp":{}`)))
		if len(p.FromDevice) != 1 || !strings.Contains(p.Entries[0].Ignored, "its only match") {
			t.Fatalf("rules %+v, entry %+v", p.FromDevice, p.Entries[0])
		}
	})
	t.Run("signature or certificate instead of the file", func(t *testing.T) {
		ca := mudtest.NewCA(t, "ca", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		signer := ca.Signer(t, "mfg", false, nil, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		inputs := map[string][]byte{
			"signature (DER CMS":   signer.Sign(t, []byte(doc(accept("a", `"tcp":{}`))), true, time.Now()),
			"certificate (PEM)":    ca.PEM(),
			"certificate (DER)":    ca.Cert.Raw,
			"binary data":          {0xff, 0xfe, 0, 1, 2},
			"not a JSON object":    []byte(`[1]`),
			"trailing data":        []byte(`{} {}`),
			"unexpected end":       []byte(`{"ietf-mud:mud":`),
			"nested more than 64 ": []byte(strings.Repeat("[", 70) + strings.Repeat("]", 70)),
		}
		if b, err := os.ReadFile(filepath.Join(corpusDir(t), "cisco_mud-manager", "examples__luminaire__fs__Luminaire_150.p7s")); err == nil {
			inputs["signature (DER CMS, like a .p7s file)"] = b
		}
		for want, in := range inputs {
			if _, err := mud.Parse(in, 0); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("got %v, want an error saying %q", err, want)
			}
		}
	})
}
