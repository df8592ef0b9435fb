package mud_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// synthetic lists files that exercise what the corpus lacks (drops,
// ICMP, extensions, qualified names, unused lists), for the property test
// and as fuzzing seeds.
func synthetic() []string {
	return []string{
		doc(drop("d", `"ipv4":{"dscp":46},"tcp":{"destination-port":{"port":23}}`) + "," + accept("a", `"tcp":{}`)),
		doc(accept("a", `"ipv4":{"dscp":46},"tcp":{"flags":"syn"}`) + "," + accept("b", `"udp":{}`)),
		docTyped("eth-acl-type", accept("i", `"icmp":{}`)+","+drop("j", `"icmp":{"type":8}`)+","+accept("k", `"icmp":{"type":8}`)),
		docTyped("ipv6-acl-type", accept("z", `"ipv6":{"protocol":0}`)+","+drop("y", `"ipv6":{"protocol":0}`)),
		doc(accept("x", `"ietf-acl-tls:client-profiles":{}`) + "," + accept("t", `"tcp":{},"ietf-acl-tls:client-profiles":{}`)),
		doc(accept("gw", `"ietf-mud:mud":{"controller":"urn:ietf:params:mud:gateway"},"icmp":{"type":8,"code":0}`)),
		doc(`{"name":"q","ietf-access-control-list:matches":{"ietf-access-control-list:ipv4":{"ietf-access-control-list:protocol":17}},"actions":{"forwarding":"accept"}}`),
		`{"ietf-mud:mud":{"mud-version":1,"mud-url":"https://mfg.example/u","last-update":"2024-01-01T00:00:00Z","is-supported":true,
		"from-device-policy":{"access-lists":{"access-list":[{"name":"a"}]}},"to-device-policy":{"access-lists":{"access-list":[{"name":"a"}]}}},
		"ietf-access-control-list:acls":{"acl":[{"name":"a","aces":{"ace":[` + accept("p", `"udp":{"destination-port":{"port":5683}}`) + `]}},
		{"name":"unused","type":"ipv4-acl-type","aces":{"ace":[` + accept("u", `"tcp":{}`) + `]}}]}}`,
	}
}

// get finds a member by its YANG name, plain or qualified with a module
// the parser knows.
func get(m map[string]any, name string) any {
	for _, mod := range []string{"", "ietf-access-control-list:", "ietf-mud:", "ietf-acldns:", "ietf-packet-fields:", "ietf-ethertypes:"} {
		if v, ok := m[mod+name]; ok {
			return v
		}
	}
	return nil
}

var acePath = regexp.MustCompile(`acl\[(\d+)\]/[^/]+/ace\[(\d+)\]$`)

// checkInvariants parses b twice and checks the same input gives the same
// policy or error and, for an accepted file, that every entry of the file
// is compiled or reported (an Entry with rules or with why it has none),
// and that the policy's rules are exactly its entries' rules, in order.
func checkInvariants(t *testing.T, b []byte) {
	t.Helper()
	p1, err1 := mud.Parse(b, 0)
	p2, err2 := mud.Parse(b, 0)
	if fmt.Sprint(err1) != fmt.Sprint(err2) {
		t.Fatalf("two parses, two outcomes: %v / %v", err1, err2)
	}
	if diff := cmp.Diff(p1, p2, cmpRule...); diff != "" {
		t.Fatalf("two parses, two policies (-first +second):\n%s", diff)
	}
	if err1 != nil {
		return
	}
	p := p1
	// The entries the file holds, found without the parser.
	var want []string
	var root map[string]any
	if json.Unmarshal(b, &root) == nil {
		acls, _ := get(root, "acls").(map[string]any)
		if acls == nil {
			acls, _ = get(root, "access-lists").(map[string]any)
		}
		list, _ := get(acls, "acl").([]any)
		for i, a := range list {
			am, _ := a.(map[string]any)
			aces, _ := get(am, "aces").(map[string]any)
			if aces == nil {
				aces, _ = get(am, "access-list-entries").(map[string]any)
			}
			entries, _ := get(aces, "ace").([]any)
			for j := range entries {
				want = append(want, fmt.Sprintf("%d/%d", i, j))
			}
		}
	}
	var got []string
	var from, to []mud.Rule
	for _, e := range p.Entries {
		m := acePath.FindStringSubmatch(e.Path)
		if m == nil {
			t.Fatalf("entry path %q", e.Path)
		}
		if k := m[1] + "/" + m[2]; !slices.Contains(got, k) {
			got = append(got, k)
		}
		if (len(e.Rules) > 0) == (e.Ignored != "") {
			t.Errorf("%s: %d rules and ignored %q: want rules or a reason", e.Path, len(e.Rules), e.Ignored)
		}
		for _, r := range e.Rules {
			if r.Accept != e.Accept {
				t.Errorf("%s: a rule's action differs from its entry's", e.Path)
			}
		}
		switch e.Policy {
		case mud.FromDevice:
			from = append(from, e.Rules...)
		case mud.ToDevice:
			to = append(to, e.Rules...)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if json.Valid(b) && !slices.Equal(want, got) {
		t.Errorf("entries of the file %v, accounted for %v", want, got)
	}
	if diff := cmp.Diff(p.FromDevice, from, cmpRule...); diff != "" {
		t.Errorf("from-device rules are not the entries' (-policy +entries):\n%s", diff)
	}
	if diff := cmp.Diff(p.ToDevice, to, cmpRule...); diff != "" {
		t.Errorf("to-device rules are not the entries' (-policy +entries):\n%s", diff)
	}
}

// Parsing is deterministic and accounts for every entry: on every corpus
// file and the synthetic ones.
func TestParseProperties(t *testing.T) {
	for _, f := range corpusFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(f[len(corpusDir(t))+1:], func(t *testing.T) { checkInvariants(t, b) })
	}
	for i, s := range synthetic() {
		t.Run(fmt.Sprint("synthetic", i), func(t *testing.T) {
			if _, err := mud.Parse([]byte(s), 0); err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, []byte(s))
		})
	}
}
