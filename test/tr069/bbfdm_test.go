package tr069_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// bbfdm is bbfdmd with trustjoin's plugin loaded, driven over its ubus
// API as icwmp (proto cwmp: the changes of a session committed at its
// end through bbf.config) and USP agents (proto usp) drive it.
type bbfdm struct {
	*router
	proto string
}

func startBBFDM(t *testing.T, release string) *bbfdm {
	r := newRouter(t, release)
	// What bbfdm's package init script makes: the directories where each
	// protocol's changes wait for their commit (uci makes only the last
	// level; a missing parent loses a change, and bbfdm still answers 1).
	r.sh("mkdir -p /tmp/bbfdm/.cwmp/config /tmp/bbfdm/.cwmp/dmmap /tmp/bbfdm/.usp/config /tmp/bbfdm/.usp/dmmap /tmp/bbfdm/.bbfdm/config /tmp/bbfdm/.bbfdm/dmmap /etc/bbfdm/dmmap")
	r.start("bbf_configd", "/usr/sbin/bbf_configd")
	r.waitUbus("bbf.config")
	r.start("bbfdmd", "/usr/sbin/bbfdmd")
	r.waitUbus("bbfdm")
	return &bbfdm{router: r, proto: "cwmp"}
}

// result is one entry of bbfdm's "results".
type result struct {
	Path, Data, Type, FaultMsg string
	Fault                      int
}

func (b *bbfdm) call(method string, args map[string]any) []result {
	b.t.Helper()
	args["optional"] = map[string]any{"proto": b.proto, "format": "raw"}
	status, reply := b.ubus("bbfdm", method, args)
	if status != 0 {
		b.t.Fatalf("bbfdm %s %v: ubus status %d", method, args, status)
	}
	raw, _ := reply["results"].([]any)
	var out []result
	for _, e := range raw {
		m, _ := e.(map[string]any)
		r := result{Path: str(m["path"]), Data: str(m["data"]), Type: str(m["type"]), FaultMsg: str(m["fault_msg"])}
		if f, ok := m["fault"].(float64); ok {
			r.Fault = int(f)
		}
		out = append(out, r)
	}
	return out
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// get reads one path (a parameter or, ending in ".", an object's tree):
// values by path, and the fault of a refused read.
func (b *bbfdm) get(path string) map[string]result {
	b.t.Helper()
	out := map[string]result{}
	for _, r := range b.call("get", map[string]any{"path": path}) {
		out[r.Path] = r
	}
	return out
}

func (b *bbfdm) value(path string) string {
	b.t.Helper()
	r, ok := b.get(path)[path]
	if !ok || r.Fault != 0 {
		b.t.Fatalf("get %s: %+v", path, b.get(path))
	}
	return r.Data
}

// set writes values; it returns the fault (0: none) of the first refused.
func (b *bbfdm) set(kv ...string) (int, string) {
	b.t.Helper()
	// One message: obj_path holds the parameters relative to path.
	params := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		params[strings.TrimPrefix(kv[i], root)] = kv[i+1]
	}
	for _, r := range b.call("set", map[string]any{"path": root, "obj_path": params}) {
		if r.Fault != 0 {
			return r.Fault, r.FaultMsg
		}
	}
	return 0, ""
}

func (b *bbfdm) mustSet(kv ...string) {
	b.t.Helper()
	if f, msg := b.set(kv...); f != 0 {
		b.t.Fatalf("set %v: fault %d %s", kv, f, msg)
	}
}

// add adds an instance of a table, with values (USP's Add does both).
func (b *bbfdm) add(table string, kv ...string) (string, int) {
	b.t.Helper()
	args := map[string]any{"path": table}
	if len(kv) > 0 {
		params := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			params[kv[i]] = kv[i+1]
		}
		args["obj_path"] = params
	}
	rs := b.call("add", args)
	if len(rs) == 0 {
		b.t.Fatalf("add %s: no result", table)
	}
	return rs[0].Data, rs[0].Fault
}

func (b *bbfdm) del(obj string) int {
	b.t.Helper()
	rs := b.call("del", map[string]any{"path": obj})
	if len(rs) == 0 {
		b.t.Fatalf("del %s: no result", obj)
	}
	return rs[0].Fault
}

// commit ends a session: bbf.config commits the changes and reloads the
// services whose configuration changed (rpcd's uci commit, procd's
// trigger, trustjoin's init script: SIGHUP). It waits until trustjoin has
// taken the new configuration (ready again), refused it, or found it the
// one in force.
func (b *bbfdm) commit(changes bool) {
	b.t.Helper()
	ready, rejected, same := b.log.count("msg=ready"), b.log.count("new configuration rejected"), b.log.count(`msg="configuration unchanged"`)
	if status, reply := b.ubus("bbf.config", "commit", map[string]any{"proto": b.proto}); status != 0 {
		b.t.Fatalf("bbf.config commit: %d %v", status, reply)
	}
	if !changes {
		return
	}
	b.log.waitForAny(b.t, map[string]int{"msg=ready": ready + 1, "new configuration rejected": rejected + 1, `msg="configuration unchanged"`: same + 1})
}

// keyHash is what trustjoin calls a DPP URI's hash: SHA-256 over the
// public key's DER, in hex.
func keyHash(t *testing.T, uri string) string {
	for _, f := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(uri, "DPP:"), ";;"), ";") {
		if k, ok := strings.CutPrefix(f, "K:"); ok {
			der, err := base64.StdEncoding.DecodeString(k)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.Sum256(der)
			return hex.EncodeToString(h[:])
		}
	}
	t.Fatalf("no key in %s", uri)
	return ""
}

// longURI is a real DPP URI of the kind with every field, longer than the
// 255 bytes bbfdm passes in a ubus argument.
func longURI(t *testing.T) string {
	u := "DPP:C:81/1,81/6,81/11,115/36,115/40,115/44,115/48,115/149;M:0a1b2c3d4e5f;V:3;H:192.0.2.7:8908;I:Acme Camera 4K XR-2000 SN-0123456789 batch 2026-05;" +
		strings.TrimSuffix(strings.TrimPrefix(dppURI(t), "DPP:V:2;"), ";;") + ";;"
	if len(u) <= 255 {
		t.Fatalf("long URI of %d bytes", len(u))
	}
	return u
}

// An ACS runs trustjoin through the real bbfdmd: every item of issue #17
// that bbfdm takes part in, each against the real daemon behind rpcd.
func TestBBFDM(t *testing.T) {
	t.Parallel()
	b := startBBFDM(t, "24.10")
	p := func(s string) string { return root + s }
	b.stranger("tjtrb0", "02:00:00:00:00:77")

	// Reads: settings from UCI, status from ubus, typed values where unset
	// (Quarantine, ConfigRejectedAt, a device never seen), lists joined.
	got := b.get(root)
	want := map[string]string{
		"Enable": "1", "Ready": "1", "SegmentNumberOfEntries": "4", "Segment.2.Name": "iot", "Segment.1.Reach": "iot,guest",
		"Segment.2.Quarantine": "0", "ConfigRejected": "", "ConfigRejectedAt": "0001-01-01T00:00:00Z",
		"Device.1.LastSeen": "0001-01-01T00:00:00Z", "DeviceNumberOfEntries": "2", "PreAuthorizedNumberOfEntries": "0",
		"Onboarding.AKM": "psk", "Segment.1.Alias": "cpe-1",
		// Watching: a lifetime of 0 (for ever), a device's behaviour (no
		// firewall here: nothing seen), its credential's expiry (none).
		"Segment.2.Lifetime": "0", "Segment.3.Lifetime": "0", "Device.1.Stats.Dropped": "0", "Device.2.Stats.Opened": "0",
		"Device.1.Stats.DroppedDestinations": "", "Device.1.CredentialExpires": "0001-01-01T00:00:00Z",
		// A device nobody added, plugged into the guest segment.
		"UnknownNumberOfEntries": "1", "Unknown.1.MACAddress": "02:00:00:00:00:77", "Unknown.1.Kind": "wired",
		"Unknown.1.Segment": "guest", "Unknown.1.Interface": "tjtrb0", "Unknown.1.Addresses": "192.0.2.77", "Unknown.1.Handled": "",
	}
	for k, v := range want {
		if g := got[p(k)]; g.Data != v && !(v == "1" && g.Data == "true") {
			t.Errorf("%s = %q (%s), want %q", k, g.Data, g.Type, v)
		}
	}
	for path, r := range got {
		if r.Data == "" && r.Type != "xsd:string" {
			t.Errorf("%s (%s) reads empty", path, r.Type)
		}
	}
	// A device's behaviour is asked of rpcd by the instance's number,
	// which it answers (empty here: nothing feeds it), not with a fault
	// that would read as the default.
	for _, inst := range []string{"1", "2"} {
		if st, reply := b.ubus("trustjoin", "behaviour", map[string]any{"instance": inst}); st != 0 || reply["dropped_to"] == nil {
			t.Errorf("behaviour of instance %s: status %d, %v", inst, st, reply)
		}
	}
	// The unknown devices are read-only.
	if f, msg := b.set(p("Unknown.1.Kind"), "wired"); f != 9008 {
		t.Errorf("a write of an unknown device: fault %d %s, want 9008", f, msg)
	}

	// Devices are numbered by position (bbfdm's JSON engine knows no other
	// way for ubus-backed tables): a USP controller addresses one by its
	// unique key, which bbfdm resolves within the request.
	byKey := b.get(p(`Device.[ID=="d-plug"].Name`))
	if len(byKey) != 1 {
		t.Errorf("Device by unique key: %+v", byKey)
	}
	for _, r := range byKey {
		if r.Data != "Plug" {
			t.Errorf("Device by unique key: %+v", r)
		}
	}

	// Refused up front (fault 9007), nothing staged: out of range, not
	// in the enumeration, not a name, too long, a list item not a name,
	// not an interface name (a URI that is no DPP URI: below).
	for _, kv := range [][2]string{
		{"Segment.2.VLAN", "5000"}, {"Onboarding.AKM", "wep"}, {"Onboarding.Timeout", "5"}, {"Segment.2.Name", "a b"},
		{"Segment.2.Name", strings.Repeat("n", 33)}, {"Segment.1.Reach", "iot,no such"}, {"MUD.MaxSize", "10"}, {"Segment.2.Bridge", "a/b"},
		// A lifetime is 0 or at least a minute, at most ten years.
		{"Segment.2.Lifetime", "59"}, {"Segment.2.Lifetime", "9"}, {"Segment.2.Lifetime", "315360001"}, {"Segment.2.Lifetime", "-1"},
	} {
		if f, msg := b.set(p(kv[0]), kv[1]); f != 9007 {
			t.Errorf("%s = %q: fault %d %s, want 9007", kv[0], kv[1], f, msg)
		}
	}
	b.commit(false)
	if v := b.value(p("Segment.2.VLAN")); v != "20" {
		t.Fatalf("a refused value was applied: VLAN %s", v)
	}
	if v := b.value(p("Segment.2.Lifetime")); v != "0" {
		t.Fatalf("a refused value was applied: Lifetime %s", v)
	}

	// A write trustjoin itself refuses (no such segment) reaches the ACS
	// as a fault: rpcd answers the plugin's refusal with an error status.
	if f, msg := b.set(p("Device.1.Segment"), "nosuch"); f != 9007 {
		t.Errorf("move to a segment that does not exist: fault %d %s", f, msg)
	}
	b.mustSet(p("Device.2.Quarantined"), "1")
	if v := b.value(p("Device.2.Quarantined")); v != "1" && v != "true" {
		t.Errorf("quarantined: %s", v)
	}
	b.mustSet(p("Device.2.Quarantined"), "0")

	// Lists are lists in UCI, and the daemon takes them; so a guest's
	// credential lifetime of a day.
	b.mustSet(p("Segment.1.Reach"), "iot", p("Segment.3.Lifetime"), "86400")
	b.commit(true)
	if cfg := b.read("etc/config/trustjoin"); !strings.Contains(cfg, "list reach 'iot'") || strings.Contains(cfg, "option reach") {
		t.Errorf("Reach written as:\n%s", cfg)
	}
	if v := strings.TrimSpace(b.sh("uci get trustjoin.guest.lifetime")); v != "86400" {
		t.Errorf("Lifetime written as %q", v)
	}
	if v := b.value(p("Segment.3.Lifetime")); v != "86400" {
		t.Errorf("Lifetime reads %s", v)
	}
	// 0 is for ever, below the range yet taken.
	b.mustSet(p("Segment.3.Lifetime"), "0")
	b.commit(true)
	if v := strings.TrimSpace(b.sh("uci get trustjoin.guest.lifetime")); v != "0" {
		t.Errorf("Lifetime 0 written as %q", v)
	}
	if v := b.value(p("ConfigRejected")); v != "" {
		t.Fatalf("rejected: %s", v)
	}

	// A new segment: committed empty after AddObject (trustjoin skips it),
	// then named and given its VLAN; a controller with its lists.
	seg, f := b.add(p("Segment."))
	if f != 0 {
		t.Fatalf("AddObject Segment: fault %d", f)
	}
	b.commit(true)
	if v := b.value(p("ConfigRejected")); v != "" {
		t.Fatalf("an empty new segment rejected the configuration: %s", v)
	}
	b.mustSet(p("Segment."+seg+".Name"), "cams", p("Segment."+seg+".VLAN"), "50", p("Segment."+seg+".Isolate"), "1")
	ctl, _ := b.add(p("Controller."))
	b.mustSet(p("Controller."+ctl+".Addresses"), "192.168.1.20,fd00::20", p("Controller."+ctl+".MUDURLs"), "https://maker.example/bulb.json",
		p("Controller."+ctl+".Alias"), "bulb-hub")
	b.commit(true)
	if v := b.value(p("ConfigRejected")); v != "" {
		t.Fatalf("rejected: %s", v)
	}
	cfg := b.read("etc/config/trustjoin")
	for _, s := range []string{"config segment 'cams'", "option vlan '50'", "list address '192.168.1.20'", "list address 'fd00::20'"} {
		if !strings.Contains(cfg, s) {
			t.Errorf("no %q in:\n%s", s, cfg)
		}
	}
	if v := b.value(p("Segment." + seg + ".Name")); v != "cams" {
		t.Errorf("the renamed segment is instance %s no more: %s", seg, v)
	}
	if v := b.value(p("Controller." + ctl + ".Alias")); v != "bulb-hub" {
		t.Errorf("Alias %s", v)
	}

	// A pre-authorised device over CWMP: AddObject, then its values, a URI
	// longer than bbfdm's ubus arguments among them.
	uri := longURI(t)
	pa, f := b.add(p("PreAuthorized."))
	if f != 0 {
		t.Fatalf("AddObject PreAuthorized: fault %d", f)
	}
	if f, msg := b.set(p("PreAuthorized."+pa+".URI"), "https://maker.example/camera"); f != 9007 {
		t.Errorf("a URI that is not a DPP URI: fault %d %s, want 9007", f, msg)
	}
	b.mustSet(p("PreAuthorized."+pa+".URI"), uri, p("PreAuthorized."+pa+".Segment"), "cams", p("PreAuthorized."+pa+".Name"), "Camera")
	b.commit(true)
	if v := b.value(p("ConfigRejected")); v != "" {
		t.Fatalf("rejected: %s", v)
	}
	if got := b.get(p("PreAuthorized." + pa + ".")); got[p("PreAuthorized."+pa+".Status")].Data != "pending" ||
		got[p("PreAuthorized."+pa+".URIHash")].Data != keyHash(t, uri) || got[p("PreAuthorized."+pa+".URI")].Data != "" ||
		got[p("PreAuthorized."+pa+".Segment")].Data != "cams" {
		t.Errorf("pre-authorised device: %+v", got)
	}
	// A URI whose shape is right but whose key is not one: refused by
	// trustjoin when it loads the file, whole; the ACS reads why.
	bad, _ := b.add(p("PreAuthorized."))
	b.mustSet(p("PreAuthorized."+bad+".URI"), "DPP:K:AAAA;;")
	b.commit(true)
	if v := b.value(p("ConfigRejected")); !strings.Contains(v, "preauth_"+bad) {
		t.Errorf("a bad key: ConfigRejected %q", v)
	}
	if f := b.del(p("PreAuthorized." + bad + ".")); f != 0 {
		t.Fatalf("DeleteObject: fault %d", f)
	}
	b.commit(true)
	if v := b.value(p("ConfigRejected")); v != "" {
		t.Fatalf("still rejected: %s", v)
	}

	// USP: Add with the values in one message, and faults in USP's codes.
	b.proto = "usp"
	pb, f := b.add(p("PreAuthorized."), "URI", dppURI(t), "Name", "Plug")
	if f != 0 {
		t.Fatalf("USP Add: fault %d", f)
	}
	if f, _ := b.set(p("Segment.2.VLAN"), "0"); f != 7012 {
		t.Errorf("USP set of a VLAN out of range: fault %d, want 7012", f)
	}
	if f, _ := b.set(p("Device.1.Segment"), "nosuch"); f != 7012 {
		t.Errorf("USP move to a segment that does not exist: fault %d, want 7012", f)
	}
	b.commit(true)
	if v := b.value(p("PreAuthorized." + pb + ".Status")); v != "pending" {
		t.Errorf("USP-added device: status %s", v)
	}
	if v := b.value(p("PreAuthorizedNumberOfEntries")); v != "2" {
		t.Errorf("%s pre-authorised", v)
	}
	if f := b.del(p("PreAuthorized." + pb + ".")); f != 0 {
		t.Fatalf("USP Delete: fault %d", f)
	}
	b.commit(true)
	if v := b.value(p("PreAuthorizedNumberOfEntries")); v != "1" {
		t.Errorf("after USP Delete: %s pre-authorised", v)
	}
	if cfg := b.read("etc/config/trustjoin"); strings.Contains(cfg, "'preauth_"+pb+"'") {
		t.Errorf("USP Delete left the section:\n%s", cfg)
	}
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}
