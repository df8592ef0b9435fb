package mud_test

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// doc wraps ACEs into a minimal MUD file with one from-device ACL.
func doc(aces string) string {
	return `{"ietf-mud:mud":{"mud-version":1,"mud-url":"https://mfg.example/cam","last-update":"2024-01-01T00:00:00Z",
	"cache-validity":24,"is-supported":true,
	"from-device-policy":{"access-lists":{"access-list":[{"name":"out"}]}}},
	"ietf-access-control-list:acls":{"acl":[{"name":"out","type":"ipv4-acl-type","aces":{"ace":[` + aces + `]}}]}}`
}

func TestParseRules(t *testing.T) {
	tests := []struct {
		name, ace string
		want      mud.Rule
		warn      string
	}{
		{"dns name and port", `{"name":"a","matches":{"ipv4":{"ietf-acldns:dst-dnsname":"Cloud.Example.com.","protocol":6},
			"tcp":{"ietf-mud:direction-initiated":"from-device","destination-port":{"operator":"eq","port":443}}},"actions":{"forwarding":"accept"}}`,
			mud.Rule{ACL: "out", ACE: "a", Family: 4, Protocol: 6, DstDNS: "cloud.example.com", DstPorts: &mud.Ports{Lo: 443, Hi: 443}, Direction: mud.FromDevice, Accept: true}, ""},
		{"range and gte", `{"name":"b","matches":{"udp":{"source-port":{"operator":"gte","port":1024},"destination-port":{"lower-port":5000,"upper-port":5010}}},"actions":{"forwarding":"accept"}}`,
			mud.Rule{ACL: "out", ACE: "b", Family: 4, Protocol: 17, SrcPorts: &mud.Ports{Lo: 1024, Hi: 65535}, DstPorts: &mud.Ports{Lo: 5000, Hi: 5010}, Accept: true}, ""},
		{"same manufacturer", `{"name":"c","matches":{"ietf-mud:mud":{"same-manufacturer":[null]}},"actions":{"forwarding":"accept"}}`,
			mud.Rule{ACL: "out", ACE: "c", Family: 4, Protocol: -1, Peer: mud.PeerSameManufacturer, Accept: true}, ""},
		{"empty list for null", `{"name":"d","matches":{"ietf-mud:mud":{"local-networks":[]}},"actions":{"forwarding":"accept"}}`,
			mud.Rule{ACL: "out", ACE: "d", Family: 4, Protocol: -1, Peer: mud.PeerLocalNetworks, Accept: true}, "[] read as [null]"},
		{"controller", `{"name":"e","matches":{"ietf-mud:mud":{"controller":"urn:ietf:params:mud:ntp"},"udp":{"destination-port":{"port":123}}},"actions":{"forwarding":"drop"}}`,
			mud.Rule{ACL: "out", ACE: "e", Family: 4, Protocol: 17, DstPorts: &mud.Ports{Lo: 123, Hi: 123}, Peer: mud.PeerController, PeerValue: "urn:ietf:params:mud:ntp"}, ""},
		{"operator range mix", `{"name":"f","matches":{"tcp":{"destination-port":{"operator":"range","lower-port":80,"upper-port":81}}},"actions":{"forwarding":"accept"}}`,
			mud.Rule{ACL: "out", ACE: "f", Family: 4, Protocol: 6, DstPorts: &mud.Ports{Lo: 80, Hi: 81}, Accept: true}, `operator "range" mixed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := mud.Parse([]byte(doc(tt.ace)), 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.FromDevice) != 1 {
				t.Fatalf("%d rules", len(p.FromDevice))
			}
			if diff := cmp.Diff(tt.want, p.FromDevice[0], cmpopts.IgnoreUnexported(mud.Rule{}), cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
				t.Fatalf("rule (-want +got):\n%s", diff)
			}
			if w := allWarnings(p); tt.warn != "" && !strings.Contains(strings.Join(w, "\n"), tt.warn) {
				t.Fatalf("warnings %q lack %q", w, tt.warn)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"udp direction", doc(`{"name":"a","matches":{"udp":{"ietf-mud:direction-initiated":"from-device"}},"actions":{"forwarding":"accept"}}`),
			"matches/udp/ietf-mud:direction-initiated: only TCP has a direction-initiated"},
		{"src dns in from-device", doc(`{"name":"a","matches":{"ipv4":{"ietf-acldns:src-dnsname":"x.example"}},"actions":{"forwarding":"accept"}}`),
			"src-dnsname in a from-device policy"},
		{"bad port", doc(`{"name":"a","matches":{"tcp":{"destination-port":{"port":70000}}},"actions":{"forwarding":"accept"}}`),
			"destination-port/port: not a port"},
		{"reversed range", doc(`{"name":"a","matches":{"tcp":{"destination-port":{"lower-port":9,"upper-port":1}}},"actions":{"forwarding":"accept"}}`),
			"lower-port 9 is above upper-port 1"},
		{"bad action", doc(`{"name":"a","matches":{"tcp":{}},"actions":{"forwarding":"mirror"}}`), `want accept or drop, got "mirror"`},
		{"two mud matches", doc(`{"name":"a","matches":{"ietf-mud:mud":{"model":"x","controller":"y"}},"actions":{"forwarding":"accept"}}`), "want exactly one MUD match"},
		{"dangling acl", strings.Replace(doc(`{"name":"a","matches":{"tcp":{}},"actions":{"forwarding":"accept"}}`), `"name":"out"}]}}}`, `"name":"other"}]}}}`, 1),
			`names access list "other", which the file does not define`},
		{"http url", strings.Replace(doc(`{"name":"a","matches":{"tcp":{}},"actions":{"forwarding":"accept"}}`), "https://", "http://", 1), "mud-url: must be an https URL"},
		{"too big", `{"x":"` + strings.Repeat("a", mud.DefaultMaxSize) + `"}`, fmt.Sprintf("more than the %d allowed", mud.DefaultMaxSize)},
		{"not json", `{`, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mud.Parse([]byte(tt.in), 0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// allWarnings lists the file's warnings and every entry's notes.
func allWarnings(p *mud.Policy) []string {
	w := append([]string{}, p.Warnings...)
	for _, e := range p.Entries {
		w = append(w, e.Notes...)
	}
	return w
}

// FuzzParse: no input crashes or hangs the parser, the same input always
// gives the same policy (or the same error), and every entry of an
// accepted file is compiled or reported.
func FuzzParse(f *testing.F) {
	for _, fl := range corpusFiles(f) {
		if b, err := os.ReadFile(fl); err == nil {
			f.Add(b)
		}
	}
	for _, s := range synthetic() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := mud.Parse(b, 0)
		if err == nil && p.URL == "" {
			t.Fatal("accepted a file without a MUD URL")
		}
		checkInvariants(t, b)
	})
}

// Ethertypes are read as real files write them, and an ethernet match the
// parser does not understand (a MAC address) leaves the entry out rather
// than letting it grant more than it says.
func TestEthMatches(t *testing.T) {
	tests := []struct {
		name, eth string
		want      int // ethertype of the single rule; -1: the entry is left out
		err       string
	}{
		{"hex string", `{"ethertype": "0x888e"}`, 0x888e, ""},
		{"number", `{"ethertype": 2054}`, 0x0806, ""},
		{"name", `{"ethertype": "ipv6"}`, 0x86dd, ""},
		{"mac address", `{"destination-mac-address": "ff:ff:ff:ff:ff:ff", "ethertype": "0x0800"}`, -1, ""},
		{"garbage", `{"ethertype": "0xzz"}`, 0, "ethertype"},
		{"too big", `{"ethertype": 70000}`, 0, "ethertype"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := `{"ietf-mud:mud": {"mud-version": 1, "mud-url": "https://mfg.example/d.json", "last-update": "2026-01-01T00:00:00Z",
				"is-supported": true, "systeminfo": "d", "from-device-policy": {"access-lists": {"access-list": [{"name": "a"}]}}},
				"ietf-access-control-list:acls": {"acl": [{"name": "a", "type": "eth-acl-type", "aces": {"ace": [
				{"name": "e", "matches": {"eth": ` + tt.eth + `}, "actions": {"forwarding": "accept"}},
				{"name": "w", "matches": {"tcp": {"destination-port": {"operator": "eq", "port": 443}}}, "actions": {"forwarding": "accept"}}]}}]}}`
			p, err := mud.Parse([]byte(file), 0)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error about %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == -1 {
				if len(p.FromDevice) != 1 || p.FromDevice[0].EtherType != 0 || p.Entries[0].Ignored == "" {
					t.Fatalf("entry not left out with a reason: rules %+v, entries %+v", p.FromDevice, p.Entries)
				}
				return
			}
			if len(p.FromDevice) != 2 || p.FromDevice[0].EtherType != tt.want {
				t.Fatalf("rules %+v, want the first with ethertype %#x", p.FromDevice, tt.want)
			}
		})
	}
}
