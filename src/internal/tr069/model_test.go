package tr069_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/rpcd"
	"github.com/trustjoin/trustjoin/src/internal/tr069"
)

const shipped = "../../../files/etc/config/trustjoin"

// The plugin in files/ is what the generator makes: it cannot drift.
func TestShippedPluginIsGenerated(t *testing.T) {
	want, err := tr069.BBFDM("TRUSTJOIN")
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

func TestVendor(t *testing.T) {
	for v, ok := range map[string]bool{"00D09E": true, "EXAMPLE-COM": true, "ISP_NET": true, "example.com": false, "": false, "X Y": false} {
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
			if p.Write && p.UCI == nil && p.Set == nil && p.AddArg == "" {
				t.Errorf("%s%s is writable but says nowhere how", o.Path, p.Name)
			}
		}
	}
	// Every table has its NumberOfEntries (TR-106).
	for _, o := range tr069.Model() {
		if strings.HasSuffix(o.Path, "{i}.") && !seen[strings.TrimSuffix(o.Path, ".{i}.")+"NumberOfEntries"] {
			t.Errorf("%s has no NumberOfEntries parameter", o.Path)
		}
	}
}

// Every UCI mapping is an option trustjoin's strict parser knows, and set
// in the shipped config (lists may be empty there).
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
			if !p.UCI.List && !present(sections, typ, p.UCI.Section, p.UCI.Option) {
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
}

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
	probe += fmt.Sprintf("config %s '%s'\n%s\t%s %s 'x'\n", typ, name, probeBody[typ], kw, opt)
	_, err := config.Parse("probe", strings.NewReader(probe))
	return err == nil || !strings.Contains(err.Error(), "unknown")
}

// present reports whether the shipped config sets opt in the named
// section or, for a multi-instance object, in some section of its type.
func present(ss []config.Section, typ, name, opt string) bool {
	for _, s := range ss {
		if s.Type != typ || (name != "" && s.Name != name) {
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

// Every ubus mapping names a method of the rpcd plugin and a field its
// reply really has; every write, add and delete names a method taking the
// arguments the generated plugins pass.
func TestUbusMappings(t *testing.T) {
	now := time.Now()
	replies := map[string]any{
		"status":       api.Status{Radios: []api.Radio{{}}, Config: api.ConfigStatus{RejectedAt: &now}},
		"devices":      map[string]any{"devices": []api.Device{{LastSeen: &now, Firewall: &api.FirewallStatus{}}}},
		"preauth_list": map[string]any{"entries": []api.PreauthEntry{{}}},
	}
	for _, o := range tr069.Model() {
		var arrayKey string
		if o.Ubus != nil {
			arrayKey = o.Ubus.Key
			reply := checkMethod(t, o.Path, o.Ubus.Method, replies)
			if o.Key != "" && reply != nil && !hasPath(t, reply, arrayKey+".0."+o.Key) {
				t.Errorf("%s: instances are keyed by %q, which %s's elements lack", o.Path, o.Key, o.Ubus.Method)
			}
		}
		if o.Access && o.UCIType == "" && (o.Add == nil || o.Delete == nil || o.Key == "") {
			t.Errorf("%s: ubus-backed and access, but no Add, Delete or Key", o.Path)
		}
		if o.Delete != nil {
			checkArgs(t, o.Path+" delete", o.Delete.Method, "id", "instance")
		}
		if o.Add != nil {
			for k := range o.Add.Fixed {
				checkArgs(t, o.Path+" add", o.Add.Method, k)
			}
		}
		for _, p := range o.Params {
			if p.Set != nil {
				checkArgs(t, o.Path+p.Name, p.Set.Method, "id", "instance", p.Set.Arg)
			}
			if p.AddArg != "" {
				if o.Add == nil {
					t.Errorf("%s%s has an AddArg but its object no Add", o.Path, p.Name)
				} else {
					checkArgs(t, o.Path+p.Name, o.Add.Method, p.AddArg)
				}
			}
			if p.Count != "" {
				if tbl, _ := tr069.Find(p.Count); tbl.Ubus != nil {
					checkMethod(t, o.Path+p.Name, tbl.Ubus.Method, replies)
				}
			}
			if p.Ubus == nil {
				continue
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

// Every ubus call in the generated plugin, reads, writes and USP commands
// alike, names a method trustjoin offers with arguments it takes; writes
// of device parameters pass the instance and the value.
func TestBBFDMUbusCalls(t *testing.T) {
	b, err := tr069.BBFDM("TRUSTJOIN")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
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
	cmd := root["PreAuthorize()"].(map[string]any)
	args := cmd["mapping"].([]any)[0].(map[string]any)["ubus"].(map[string]any)["args"]
	if diff := cmp.Diff(map[string]any{"uri": "@Input.URI", "segment": "@Input.Segment", "name": "@Input.Name", "added_by": "acs"}, args); diff != "" {
		t.Errorf("PreAuthorize() args (-want +got):\n%s", diff)
	}
}

// The plugin has the shape bbfdm loads and its validator
// (tools/validate_json_plugin.py) accepts: json_plugin_version first (the
// loader applies it to the keys after it), one top object under Device.,
// sub-objects nested in their parents under their full paths, and on every
// node the fields the validator requires.
func TestBBFDMShape(t *testing.T) {
	b, err := tr069.BBFDM("TRUSTJOIN")
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
	mapTypes := map[string]bool{"uci": true, "ubus": true, "json": true, "uci_sec": true}
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
				require(path+k, c, "type", "version", "async", "protocols", "mapping")
			default:
				require(path+k, c, "type", "version", "read", "write", "protocols", "mapping")
				if !paramTypes[fmt.Sprint(c["type"])] {
					t.Errorf("%s%s: type %v", path, k, c["type"])
				}
				for _, m := range c["mapping"].([]any) {
					if mt, _ := m.(map[string]any)["type"].(string); !mapTypes[mt] {
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
