package tr069_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/behaviour"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/dpp"
	"github.com/trustjoin/trustjoin/src/internal/rpcd"
	"github.com/trustjoin/trustjoin/src/internal/tr069"
)

const shipped = "../../../files/etc/config/trustjoin"

// The plugin in files/ is what the generator makes: it cannot drift.
func TestShippedPluginIsGenerated(t *testing.T) {
	want, err := tr069.BBFDM(tr069.Template)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../../files/usr/share/bbfdm/plugins/X_TRUSTJOIN_TrustJoin.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Fatal("files/usr/share/bbfdm/plugins/X_TRUSTJOIN_TrustJoin.json is stale: go run ./src/internal/tr069/gen -vendor TRUSTJOIN -o files/usr/share/bbfdm/plugins/X_TRUSTJOIN_TrustJoin.json")
	}
	var doc map[string]any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatalf("plugin is not JSON: %v", err)
	}
	if doc["json_plugin_version"] != float64(2) {
		t.Fatalf("json_plugin_version = %v", doc["json_plugin_version"])
	}
}

// TR-106: an OUI or a domain the vendor owns; trustjoin has neither, so
// the placeholder the files are generated for is not a vendor.
func TestVendor(t *testing.T) {
	for v, ok := range map[string]bool{"00D09E": true, "EXAMPLE-COM": true, "ISP_NET": true, "ISP-EXAMPLE_NET": true,
		"TRUSTJOIN": false, "example.com": false, "": false, "X Y": false, "00d09e": false, "EXAMPLE-": false} {
		if _, err := tr069.Root(v); (err == nil) != ok {
			t.Errorf("vendor %q: err %v", v, err)
		}
	}
}

// Names must be valid for CWMP and USP alike.
func TestNames(t *testing.T) {
	name := regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	seen := map[string]bool{}
	for _, o := range tr069.Model() {
		for _, seg := range strings.Split(strings.TrimSuffix(o.Path, "."), ".") {
			if seg != "" && seg != "{i}" && !name.MatchString(seg) {
				t.Errorf("%s: %q is not a valid object name", o.Path, seg)
			}
		}
		for _, p := range o.Params {
			if !name.MatchString(p.Name) {
				t.Errorf("%s%s: not a valid parameter name", o.Path, p.Name)
			}
			if seen[o.Path+p.Name] {
				t.Errorf("%s%s: defined twice", o.Path, p.Name)
			}
			seen[o.Path+p.Name] = true
			if p.Count != "" {
				if tbl, ok := tr069.Find(p.Count); !ok || !strings.HasSuffix(tbl.Path, "{i}.") || p.Name != strings.TrimSuffix(tbl.Path, ".{i}.")+"NumberOfEntries" {
					t.Errorf("%s%s counts %q, which is not a table named so", o.Path, p.Name, p.Count)
				}
			}
			if p.Write && p.UCI == nil && p.Set == nil && !p.Alias {
				t.Errorf("%s%s is writable but says nowhere how", o.Path, p.Name)
			}
		}
		for _, k := range o.UniqueKeys {
			if !seen[o.Path+k] {
				t.Errorf("%s: unique key %s is not one of its parameters", o.Path, k)
			}
		}
		if strings.HasSuffix(o.Path, "{i}.") && len(o.UniqueKeys) == 0 {
			t.Errorf("%s: a table without a unique key", o.Path)
		}
	}
	// Every table has its NumberOfEntries (TR-106), and one an ACS adds
	// to, an Alias.
	for _, o := range tr069.Model() {
		if strings.HasSuffix(o.Path, "{i}.") && !seen[strings.TrimSuffix(o.Path, ".{i}.")+"NumberOfEntries"] {
			t.Errorf("%s has no NumberOfEntries parameter", o.Path)
		}
		if o.Access && !seen[o.Path+"Alias"] {
			t.Errorf("%s takes AddObject but has no Alias", o.Path)
		}
		if o.Access && o.UCIType == "" {
			t.Errorf("%s takes AddObject but is not UCI-backed (bbfdm adds only UCI sections)", o.Path)
		}
	}
}

// Every writable parameter says what a value must be, so the agents
// refuse a bad one up front; every typed one reads as a value of its type
// when unset, never "".
func TestConstraintsAndDefaults(t *testing.T) {
	for _, o := range tr069.Model() {
		for _, p := range o.Params {
			where := o.Path + p.Name
			for _, pat := range []string{p.Pattern} {
				if pat == "" {
					continue
				}
				if _, err := regexp.CompilePOSIX(pat); err != nil || !strings.HasPrefix(pat, "^") || !strings.HasSuffix(pat, "$") {
					t.Errorf("%s: pattern %q is not an anchored POSIX extended expression: %v", where, pat, err)
				}
			}
			if p.Write {
				switch p.Type {
				case "unsignedInt":
					if p.Range == nil {
						t.Errorf("%s: writable unsignedInt without a range", where)
					}
				case "string":
					if len(p.Enum) == 0 && (p.Pattern == "" || p.MaxLen == 0) {
						t.Errorf("%s: writable string without an enumeration, or a pattern and a size", where)
					}
				}
			}
			switch p.Type {
			case "boolean":
				if _, err := strconv.ParseBool(p.Default); err != nil {
					t.Errorf("%s: boolean without a boolean default (%q)", where, p.Default)
				}
			case "unsignedInt":
				if _, err := strconv.ParseUint(p.Default, 10, 32); err != nil {
					t.Errorf("%s: unsignedInt without a number as default (%q)", where, p.Default)
				}
			case "dateTime":
				if _, err := time.Parse(time.RFC3339, p.Default); err != nil {
					t.Errorf("%s: dateTime without a time as default (%q)", where, p.Default)
				}
			}
			if len(p.Enum) > 0 && p.Default != "" && !contains(p.Enum, p.Default) {
				t.Errorf("%s: default %q is not one of %v", where, p.Default, p.Enum)
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// accepts reports whether p's declared constraints take v, as the agents
// check them (bbfdm's dm_validate_value; a list element by element).
func accepts(p tr069.Param, v string) bool {
	vals := []string{v}
	if p.List() {
		vals = nil
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				vals = append(vals, e)
			}
		}
	}
	for _, v := range vals {
		switch {
		case p.Type == "boolean":
			if !contains([]string{"0", "1", "true", "false"}, v) {
				return false
			}
		case p.Range != nil && p.Never && v == "0":
		case p.Range != nil:
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || uint32(n) < p.Range.Min || uint32(n) > p.Range.Max {
				return false
			}
		case len(p.Enum) > 0:
			if !contains(p.Enum, v) {
				return false
			}
		default:
			if (p.MaxLen > 0 && len(v) > p.MaxLen) || (p.Pattern != "" && !regexp.MustCompilePOSIX(p.Pattern).MatchString(v)) {
				return false
			}
		}
	}
	return true
}

// What the agents accept, trustjoin accepts, and what trustjoin refuses
// for its own sake, the agents refuse up front: for sample values of every
// UCI-backed writable parameter, written into the shipped configuration.
func TestConstraintsAgreeWithConfig(t *testing.T) {
	samples := sampleValues(t)
	base, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range tr069.Model() {
		for _, p := range o.Params {
			if !p.Write || p.UCI == nil {
				continue
			}
			vals, ok := samples[p.Name]
			if !ok {
				t.Errorf("%s%s: no sample values in this test", o.Path, p.Name)
				continue
			}
			for _, v := range vals {
				err := parseWith(t, string(base), o, p, v)
				switch agent := accepts(p, v); {
				case agent && err != nil && references[o.Path+p.Name]:
					// Another section's business: see references.
				case agent && err != nil:
					t.Errorf("%s%s = %q: the agents accept it, trustjoin refuses it: %v", o.Path, p.Name, v, err)
				case !agent && err == nil && !loose[p.Name+"="+v]:
					t.Errorf("%s%s = %q: trustjoin takes it, yet the agents refuse it", o.Path, p.Name, v)
				}
			}
		}
	}
}

// sampleValues are good and bad values of every UCI-backed writable
// parameter, by name.
func sampleValues(t *testing.T) map[string][]string {
	uri := dppURI(t)
	return map[string][]string{
		"Enable":           {"1", "0", "true", "yes", "2", ""},
		"DefaultSegment":   {"guest", "trusted", "cams", "a b", "", strings.Repeat("x", 33)},
		"AKM":              {"psk", "sae", "psk-sae", "wep", ""},
		"Timeout":          {"10", "3600", "9", "3601", "-1", "x", ""},
		"PKEXAttempts":     {"1", "100", "0", "101"},
		"PKEXWindow":       {"10", "86400", "9", "86401"},
		"LegacyPassphrase": {"1", "0", "maybe"},
		"Name":             {"cams", "segment_9", "has space", "dash-ed", strings.Repeat("n", 33), ""},
		"VLAN":             {"1", "4094", "0", "4095", "5000", "x"},
		"Internet":         {"1", "0", "x"},
		"Isolate":          {"1", "0", "x"},
		"Quarantine":       {"0", "x"},
		"Reach":            {"iot", "iot,guest", "", "nowhere", "a b"},
		"Interfaces":       {"br-iot", "br-iot,eth0.20", "", "a/b", "too-long-ifname-x", "a:b"},
		"Bridge":           {"br-cams", "", "a/b", "too-long-ifname-x"},
		"Uplink":           {"", "x/y"},
		"Watch":            {"off", "notify", "quarantine", "never"},
		"Lifetime":         {"0", "60", "86400", "315360000", "59", "1", "9", "315360001", "-1", "x", ""},
		"Addresses":        {"192.168.1.20", "192.168.1.20,fd00::20", "203.0.113.0/24", "hub.lan", "1.2.3.4/99"},
		"Classes":          {"https://maker.example/hub", "urn:x:y", "nocolon"},
		"MUDURLs":          {"https://maker.example/b.json", "http://maker.example/b.json"},
		"URI":              {uri, "WIFI:S:home;;", "DPP:V:2;;", strings.Replace(uri, ";;", ";I:"+strings.Repeat("s", 1100)+";;", 1)},
		"Segment":          {"guest", "", "nowhere", "a b"},
		"DHCPLeases":       {"/tmp/dhcp.leases", "", "dhcp.leases"},
		"SignaturePolicy":  {"require", "approve", "allow", "never"},
		"TrustAnchors":     {"/etc/trustjoin/ca.pem", "/a.pem,/b.pem", "ca.pem"},
		"MaxSize":          {"1024", "1048576", "1023", "1048577"},
		"FetchTimeout":     {"1", "300", "0", "301"},
		"RegistrarHost":    {"registrar.isp.example", "", "192.0.2.1"},
		"RegistrarPort":    {"1", "65535", "0", "65536"},
		"Port":             {"1", "65535", "0", "65536"},
	}
}

// loose are values the agents refuse although trustjoin would take them:
// spellings of booleans TR-069 does not have, and names the model keeps
// to what UCI allows ("-" is not in a UCI name) and 32 bytes.
var loose = map[string]bool{
	"Enable=yes": true, "Name=dash-ed": true, "Name=" + strings.Repeat("n", 33): true,
}

// references are parameters whose values name other sections, or whose
// meaning depends on another option: no agent can check those against the
// configuration; trustjoin refuses the configuration when it loads it, and
// the ACS reads why in ConfigRejected.
var references = map[string]bool{
	"Onboarding.DefaultSegment": true, "Segment.{i}.Reach": true, "PreAuthorized.{i}.Segment": true, "BRSKI.Enable": true,
}

// parseWith writes value v of p into cfg and parses the result: for a
// table, into a valid section of its own (and, referring to other
// sections, with "guest" and "iot" there as shipped).
func parseWith(t *testing.T, cfg string, o tr069.Object, p tr069.Param, v string) error {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	line := func(opt string) string {
		if p.UCI.List {
			var b strings.Builder
			for _, e := range strings.Split(v, ",") {
				if e != "" {
					fmt.Fprintf(&b, "\tlist %s %s\n", opt, q(strings.TrimSpace(e)))
				}
			}
			return b.String()
		}
		return fmt.Sprintf("\toption %s %s\n", opt, q(v))
	}
	var sec string
	switch {
	case p.UCI.Section != "":
		cfg = setOption(dropOption(cfg, p.UCI.Section, p.UCI.Option), p.UCI.Section, line(p.UCI.Option))
	case p.UCI.Option == "@Name":
		if v == "" || strings.ContainsAny(v, " '") {
			return fmt.Errorf("not a section name") // UCI itself takes no such name
		}
		sec = fmt.Sprintf("\nconfig %s %s\n%s", o.UCIType, q(v), probeBody[o.UCIType])
	default:
		body := probeBody[o.UCIType]
		body = regexp.MustCompile(`(?m)^\t(option|list) `+p.UCI.Option+` .*\n`).ReplaceAllString(body, "")
		sec = fmt.Sprintf("\nconfig %s 'probe'\n%s%s", o.UCIType, body, line(p.UCI.Option))
	}
	c, err := config.Parse("probe", strings.NewReader(cfg+sec))
	if err != nil {
		return err
	}
	// What the daemon checks when it applies the configuration.
	for _, pa := range c.Preauths {
		if _, err := dpp.ParseURI(pa.URI); err != nil {
			return err
		}
	}
	return nil
}

// setOption puts lines at the end of the named section of cfg.
func setOption(cfg, section, lines string) string {
	var out []string
	in := false
	for _, l := range strings.Split(cfg, "\n") {
		if strings.HasPrefix(l, "config ") {
			if in {
				out = append(out, strings.TrimSuffix(lines, "\n"))
			}
			in = strings.HasSuffix(l, "'"+section+"'")
		}
		out = append(out, l)
	}
	if in {
		out = append(out, strings.TrimSuffix(lines, "\n"))
	}
	return strings.Join(out, "\n") + "\n"
}

// dropOption removes option opt from the named section of cfg (the probe
// appends a section of the same name with the value).
func dropOption(cfg, section, opt string) string {
	var out []string
	in := false
	for _, l := range strings.Split(cfg, "\n") {
		if strings.HasPrefix(l, "config ") {
			in = strings.HasSuffix(l, "'"+section+"'")
		}
		if in && (strings.HasPrefix(l, "\toption "+opt+" ") || strings.HasPrefix(l, "\tlist "+opt+" ")) {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// Every UCI mapping is an option trustjoin's strict parser knows, and set
// in the shipped config (lists may be empty there; table types may have no
// section there).
func TestUCIMappings(t *testing.T) {
	b, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	sections, err := config.ParseUCI(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range tr069.Model() {
		for _, p := range o.Params {
			if p.UCI == nil || p.UCI.Option == "@Name" {
				continue
			}
			where := o.Path + p.Name
			typ, name := o.UCIType, p.UCI.Section
			for _, s := range sections {
				if s.Name == name {
					typ = s.Type
				}
			}
			if !knownOption(typ, name, p.UCI.Option, p.UCI.List) {
				t.Errorf("%s maps to %s.%s, which trustjoin's config does not know", where, typ, p.UCI.Option)
			}
			if !p.UCI.List && p.UCI.Section != "" && !present(sections, typ, p.UCI.Section, p.UCI.Option) {
				t.Errorf("%s maps to %s %s.%s, which the shipped config does not set", where, typ, p.UCI.Section, p.UCI.Option)
			}
		}
	}
}

// probeBody is, per section type, what makes a section valid, so that a
// probe fails only on the option probed.
var probeBody = map[string]string{
	"segment":    "\toption vlan '21'\n",
	"controller": "\tlist address '192.0.2.1'\n\tlist class 'https://maker.example/hub'\n",
	"preauth":    "\toption uri '" + probeURI + "'\n",
}

// probeURI is a valid DPP URI, for sections that need one.
var probeURI = func() string {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return "DPP:K:" + base64.StdEncoding.EncodeToString(der) + ";;"
}()

// knownOption reports whether trustjoin's config knows option opt of a
// section of type typ (named name, or a probe's own): a file setting it
// is refused, if at all, for its value, never as unknown.
func knownOption(typ, name, opt string, list bool) bool {
	if name == "" {
		name = "probe"
	}
	kw := "option"
	if list {
		kw = "list"
	}
	// The onboarding default names segment iot: it must exist.
	probe := "config segment 'iot'\n\toption vlan '20'\n"
	body := regexp.MustCompile(`(?m)^\t(option|list) `+opt+` .*\n`).ReplaceAllString(probeBody[typ], "")
	probe += fmt.Sprintf("config %s '%s'\n%s\t%s %s 'x'\n", typ, name, body, kw, opt)
	_, err := config.Parse("probe", strings.NewReader(probe))
	return err == nil || !strings.Contains(err.Error(), "unknown")
}

// present reports whether the shipped config sets opt in the named
// section.
func present(ss []config.Section, typ, name, opt string) bool {
	for _, s := range ss {
		if s.Type != typ || s.Name != name {
			continue
		}
		for _, o := range s.Options {
			if o.Name == opt {
				return true
			}
		}
	}
	return false
}

// Every ubus mapping names a method of the rpcd plugin, taking the
// arguments passed, and a field its reply really has.
func TestUbusMappings(t *testing.T) {
	now := time.Now()
	replies := map[string]any{
		"status":      api.Status{Radios: []api.Radio{{}}, Config: api.ConfigStatus{RejectedAt: &now}},
		"devices":     map[string]any{"devices": []api.Device{{LastSeen: &now, Firewall: &api.FirewallStatus{}, Credential: &api.Credential{ExpiresAt: &now}}}},
		"preauth_get": api.PreauthEntry{DeviceID: "d-1"},
	}
	// The watch calls' replies are the plugin's own (lists also as
	// strings): asked of it, over a stand-in API.
	c := serveJSON(t, map[string]any{
		"/v1/devices/d-1/behaviour": api.Behaviour{Dropped: 1, Opened: 1, Inbound: 1, Entries: []behaviour.Entry{
			{Flow: behaviour.Flow{Verdict: behaviour.Dropped, Proto: 6, Addr: netip.MustParseAddr("192.0.2.1"), Port: 23}},
			{Flow: behaviour.Flow{Verdict: behaviour.Opened, Proto: 6, Addr: netip.MustParseAddr("192.0.2.2"), Port: 443}}}},
		"/v1/unknown": api.UnknownList{Unknown: []api.UnknownDevice{{MAC: "02:00:00:00:00:01", Kind: "wrong-segment", Iface: "wlan0",
			Segment: "guest", Device: "d-1", Name: "Cam", Expected: "iot", Addresses: []string{"192.168.1.9"}, Hostname: "cam",
			FirstSeen: now, LastSeen: now, Handled: "guest"}}},
	})
	for method, in := range map[string]string{"behaviour": `{"id":"d-1"}`, "unknown": `{}`} {
		var out bytes.Buffer
		if err := rpcd.Call(context.Background(), c, method, strings.NewReader(in), &out); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		var v any
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		replies[method] = v
	}
	for _, o := range tr069.Model() {
		var arrayKey string
		if o.Ubus != nil {
			arrayKey = o.Ubus.Key
			reply := checkMethod(t, o.Path, o.Ubus.Method, replies)
			if o.Key == "" || (reply != nil && !hasPath(t, reply, arrayKey+".0."+o.Key)) {
				t.Errorf("%s: instances are keyed by %q, which %s's elements lack", o.Path, o.Key, o.Ubus.Method)
			}
		}
		for _, p := range o.Params {
			if p.Set != nil {
				checkArgs(t, o.Path+p.Name, p.Set.Method, "id", "instance", p.Set.Arg)
			}
			if p.Count != "" {
				if tbl, _ := tr069.Find(p.Count); tbl.Ubus != nil {
					checkMethod(t, o.Path+p.Name, tbl.Ubus.Method, replies)
				}
			}
			if p.Ubus == nil {
				continue
			}
			if p.Ubus.Arg != "" {
				checkArgs(t, o.Path+p.Name, p.Ubus.Method, p.Ubus.Arg)
			}
			method, key := p.Ubus.Method, p.Ubus.Key
			if o.Ubus != nil {
				method, key = o.Ubus.Method, arrayKey+".0."+p.Ubus.Key
			}
			reply := checkMethod(t, o.Path+p.Name, method, replies)
			if reply != nil && !hasPath(t, reply, key) {
				t.Errorf("%s%s maps to %s's %q, which its reply lacks", o.Path, p.Name, method, key)
			}
		}
	}
}

func checkArgs(t *testing.T, where, method string, args ...string) {
	t.Helper()
	m, ok := rpcd.Methods[method]
	if !ok {
		t.Errorf("%s calls ubus method %q, which trustjoin rpcd list does not offer", where, method)
		return
	}
	for _, a := range args {
		if _, ok := m.Args[a]; !ok {
			t.Errorf("%s calls %s with %q, which it does not take", where, method, a)
		}
	}
}

func checkMethod(t *testing.T, where, method string, replies map[string]any) any {
	if _, ok := rpcd.Methods[method]; !ok {
		t.Errorf("%s maps to ubus method %q, which trustjoin rpcd list does not offer", where, method)
		return nil
	}
	r, ok := replies[method]
	if !ok {
		t.Fatalf("no sample reply for %q in this test", method)
	}
	return r
}

func hasPath(t *testing.T, v any, path string) bool {
	b, _ := json.Marshal(v)
	var cur any
	json.Unmarshal(b, &cur)
	for _, k := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			var ok bool
			if cur, ok = c[k]; !ok {
				return false
			}
		case []any:
			if len(c) == 0 {
				return false
			}
			cur = c[0]
		default:
			return false
		}
	}
	return true
}

func pluginDoc(t *testing.T) map[string]any {
	b, err := tr069.BBFDM(tr069.Template)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// Every ubus call in the generated plugin names a method trustjoin offers
// with arguments it takes; writes of device parameters pass the instance
// and the value; calls about a pre-authorised device pass its section.
func TestBBFDMUbusCalls(t *testing.T) {
	doc := pluginDoc(t)
	calls := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if u, ok := v["ubus"].(map[string]any); ok {
				calls++
				if u["object"] != "trustjoin" {
					t.Errorf("%s: ubus object %v", path, u["object"])
				}
				method, _ := u["method"].(string)
				args, _ := u["args"].(map[string]any)
				names := make([]string, 0, len(args))
				for a := range args {
					names = append(names, a)
				}
				checkArgs(t, path, method, names...)
			}
			for k, c := range v {
				walk(path+"/"+k, c)
			}
		case []any:
			for _, c := range v {
				walk(path, c)
			}
		}
	}
	walk("", doc)
	if calls < 20 {
		t.Fatalf("only %d ubus calls in the plugin", calls)
	}
	root := doc["Device.X_TRUSTJOIN_TrustJoin."].(map[string]any)
	seg := root["Device.X_TRUSTJOIN_TrustJoin.Device.{i}."].(map[string]any)["Segment"].(map[string]any)
	set := seg["mapping"].([]any)[1].(map[string]any)
	if diff := cmp.Diff(map[string]any{"instance": "{i}", "segment": "@Value"}, set["ubus"].(map[string]any)["args"]); set["rpc"] != "set" || diff != "" {
		t.Errorf("Device.{i}.Segment set mapping %v (-want +got):\n%s", set, diff)
	}
	status := root["Device.X_TRUSTJOIN_TrustJoin.PreAuthorized.{i}."].(map[string]any)["Status"].(map[string]any)
	args := status["mapping"].([]any)[0].(map[string]any)["ubus"].(map[string]any)["args"]
	if diff := cmp.Diff(map[string]any{"section": "@Name"}, args); diff != "" {
		t.Errorf("PreAuthorized.{i}.Status args (-want +got):\n%s", diff)
	}
}

// List options are mapped as lists (bbfdm's "list": read joined by commas,
// written as one list entry per element), never as "key", which bbfdm
// reads and writes as one string option; the URI is written through UCI
// (no 255-byte cut) and never read back; Aliases live in bbfdm's dmmap;
// the constraints are where bbfdm's dm_validate_value reads them.
func TestBBFDMMappings(t *testing.T) {
	root := pluginDoc(t)["Device.X_TRUSTJOIN_TrustJoin."].(map[string]any)
	tbl := func(name string) map[string]any {
		return root["Device.X_TRUSTJOIN_TrustJoin."+name].(map[string]any)
	}
	mapping := func(leaf any) []any { return leaf.(map[string]any)["mapping"].([]any) }
	for _, o := range tr069.Model() {
		for _, p := range o.Params {
			if !p.List() {
				continue
			}
			node := root
			if o.Path != "" {
				node = tbl(o.Path)
			}
			leaf := node[p.Name].(map[string]any)
			m := mapping(leaf)[0].(map[string]any)
			if _, ok := m["key"]; ok || (m["list"] == nil && m["uci"].(map[string]any)["list"] == nil) {
				t.Errorf("%s%s: list option mapped as %v", o.Path, p.Name, m)
			}
			if l, ok := leaf["list"].(map[string]any); !ok || l["datatype"] != "string" || l["pattern"] == nil {
				t.Errorf("%s%s: no list constraints: %v", o.Path, p.Name, leaf["list"])
			}
		}
	}
	uri := tbl("PreAuthorized.{i}.")["URI"].(map[string]any)
	if diff := cmp.Diff([]any{map[string]any{"rpc": "get"}, map[string]any{"rpc": "set", "data": "@Parent", "type": "uci_sec", "key": "uri"}}, uri["mapping"]); diff != "" {
		t.Errorf("URI mapping (-want +got):\n%s", diff)
	}
	if r := uri["range"].([]any)[0].(map[string]any); r["max"] != float64(tr069.MaxURI) {
		t.Errorf("URI range %v", r)
	}
	alias := tbl("Segment.{i}.")["Alias"].(map[string]any)
	if diff := cmp.Diff([]any{map[string]any{"data": "@Parent", "type": "dmmap_sec", "key": "alias"}}, alias["mapping"]); diff != "" || alias["write"] != true {
		t.Errorf("Alias mapping (-want +got):\n%s", diff)
	}
	vlan := tbl("Segment.{i}.")["VLAN"].(map[string]any)
	if diff := cmp.Diff([]any{map[string]any{"min": float64(1), "max": float64(4094)}}, vlan["range"]); diff != "" {
		t.Errorf("VLAN range (-want +got):\n%s", diff)
	}
	if q := tbl("Segment.{i}.")["Quarantine"].(map[string]any); q["default"] != "0" {
		t.Errorf("Quarantine default %v", q["default"])
	}
	for _, name := range []string{"Segment.{i}.", "Controller.{i}.", "PreAuthorized.{i}."} {
		if o := tbl(name); o["access"] != true {
			t.Errorf("%s: access %v", name, o["access"])
		}
	}
}

// The plugin has the shape bbfdm loads and its validator
// (tools/validate_json_plugin.py) accepts: json_plugin_version first (the
// loader applies it to the keys after it), one top object under Device.,
// sub-objects nested in their parents under their full paths, and on every
// node the fields the validator requires. No commands: bbfdm ignores the
// status of a command's call, so a refused one would read as done.
func TestBBFDMShape(t *testing.T) {
	b, err := tr069.BBFDM(tr069.Template)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.Token() // {
	if k, _ := dec.Token(); k != "json_plugin_version" {
		t.Fatalf("first key %v, want json_plugin_version", k)
	}
	var doc map[string]any
	json.Unmarshal(b, &doc)
	if len(doc) != 2 || doc["json_plugin_version"] != float64(2) {
		t.Fatalf("top-level keys: %d", len(doc))
	}
	paramTypes := map[string]bool{"string": true, "unsignedInt": true, "unsignedLong": true, "boolean": true, "dateTime": true, "int": true}
	mapTypes := map[string]bool{"uci": true, "ubus": true, "json": true, "uci_sec": true, "dmmap_sec": true}
	require := func(path string, n map[string]any, fields ...string) {
		for _, f := range fields {
			if _, ok := n[f]; !ok {
				t.Errorf("%s lacks %q", path, f)
			}
		}
	}
	objects := 0
	var walk func(path string, n map[string]any)
	walk = func(path string, n map[string]any) {
		objects++
		require(path, n, "type", "version", "protocols", "array", "access")
		if n["type"] != "object" || n["array"] != strings.HasSuffix(path, "{i}.") {
			t.Errorf("%s: type %v, array %v", path, n["type"], n["array"])
		}
		if m, ok := n["mapping"]; ok {
			if ms, ok := m.([]any); !ok || len(ms) != 1 || !mapTypes[ms[0].(map[string]any)["type"].(string)] {
				t.Errorf("%s: object mapping %v is not one uci or ubus mapping in an array", path, m)
			}
		} else if n["array"] == true {
			t.Errorf("%s: a table without a mapping", path)
		}
		for k, v := range n {
			c, ok := v.(map[string]any)
			if !ok || k == "mapping" {
				continue
			}
			switch {
			case strings.HasSuffix(k, "."):
				if !strings.HasPrefix(k, path) || strings.Count(strings.TrimSuffix(strings.TrimPrefix(k, path), "{i}."), ".") != 1 {
					t.Errorf("%s nested in %s, not its parent", k, path)
				}
				walk(k, c)
			case strings.HasSuffix(k, "()"):
				t.Errorf("%s%s: a command", path, k)
			default:
				require(path+k, c, "type", "version", "read", "write", "protocols", "mapping")
				if !paramTypes[fmt.Sprint(c["type"])] {
					t.Errorf("%s%s: type %v", path, k, c["type"])
				}
				for _, m := range c["mapping"].([]any) {
					m := m.(map[string]any)
					if mt, _ := m["type"].(string); !mapTypes[mt] && !(m["rpc"] == "get" && len(m) == 1) {
						t.Errorf("%s%s: mapping type %q", path, k, mt)
					}
				}
			}
		}
	}
	top, ok := doc["Device.X_TRUSTJOIN_TrustJoin."].(map[string]any)
	if !ok {
		t.Fatal("no Device.X_TRUSTJOIN_TrustJoin.")
	}
	walk("Device.X_TRUSTJOIN_TrustJoin.", top)
	if objects != len(tr069.Model()) {
		t.Errorf("%d objects in the plugin, %d in the model", objects, len(tr069.Model()))
	}
}

// The DPP pattern the agents check takes real URIs, with every field DPP
// defines and longer than bbfdm's 255-byte ubus arguments.
func TestURIPattern(t *testing.T) {
	var p tr069.Param
	o, _ := tr069.Find("PreAuthorized.{i}.")
	for _, q := range o.Params {
		if q.Name == "URI" {
			p = q
		}
	}
	long := "DPP:C:81/1,81/6,81/11,115/36,115/40,115/44,115/48;M:0a1b2c3d4e5f;I:Acme Camera 4K model XR-2000 serial SN-0123456789;V:3;H:192.0.2.7:8908;B:abc;K:" +
		keyB64(t) + ";;"
	if len(long) <= 255 {
		t.Fatalf("test URI is only %d bytes", len(long))
	}
	for _, u := range []string{dppURI(t), long} {
		if _, err := dpp.ParseURI(u); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if !accepts(p, u) {
			t.Errorf("the agents would refuse %s", u)
		}
	}
}

func keyB64(t *testing.T) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func dppURI(t *testing.T) string { return "DPP:V:2;K:" + keyB64(t) + ";;" }

// serveJSON answers GET paths with the values, as the daemon's API.
func serveJSON(t *testing.T, replies map[string]any) *api.Client {
	path := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := replies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return api.NewClient(path)
}
