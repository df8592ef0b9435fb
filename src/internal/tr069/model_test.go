package tr069_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

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
	for _, o := range tr069.Model() {
		for _, p := range o.Params {
			if !name.MatchString(p.Name) {
				t.Errorf("%s%s: not a valid parameter name", o.Path, p.Name)
			}
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
			if p.UCI == nil {
				continue
			}
			where := o.Path + p.Name
			typ, name := o.UCIType, p.UCI.Section
			for _, s := range sections {
				if s.Name == name {
					typ = s.Type
				}
			}
			if name == "" {
				name = "iot"
			}
			kw := "option"
			if p.UCI.List {
				kw = "list"
			}
			// A file setting just this option: refused as unknown only if
			// the mapping names something trustjoin does not have.
			probe := "config segment 'iot'\n\toption vlan '20'\n"
			if typ == "segment" {
				if p.UCI.Option != "vlan" {
					probe += fmt.Sprintf("\t%s %s 'x'\n", kw, p.UCI.Option)
				}
			} else {
				probe += fmt.Sprintf("config %s '%s'\n\t%s %s 'x'\n", typ, name, kw, p.UCI.Option)
			}
			if _, err := config.Parse("probe", strings.NewReader(probe)); err != nil && strings.Contains(err.Error(), "unknown") {
				t.Errorf("%s maps to %s.%s, which trustjoin's config does not know: %v", where, name, p.UCI.Option, err)
			}
			if !p.UCI.List && !present(sections, typ, p.UCI.Section, p.UCI.Option) {
				t.Errorf("%s maps to %s %s.%s, which the shipped config does not set", where, typ, p.UCI.Section, p.UCI.Option)
			}
		}
	}
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
// reply really has.
func TestUbusMappings(t *testing.T) {
	replies := map[string]any{
		"status":  api.Status{Radios: []api.Radio{{}}},
		"devices": map[string]any{"devices": []api.Device{{}}},
	}
	for _, o := range tr069.Model() {
		var arrayKey string
		if o.Ubus != nil {
			arrayKey = o.Ubus.Key
			checkMethod(t, o.Path, o.Ubus.Method, replies)
		}
		for _, p := range o.Params {
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
