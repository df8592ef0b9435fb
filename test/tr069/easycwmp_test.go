package tr069_test

import (
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cwmpSession runs the stub ACS's queued RPCs in one session of the real
// easycwmpd, which `ubus call tr069 inform` makes connect (as a
// connection request from an ACS would).
type easycwmp struct {
	*router
	acs *acs
}

func startEasyCWMP(t *testing.T, release string, setup func(r *router)) *easycwmp {
	r := newRouter(t, release)
	a := newACS(t)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	// The connection request port: a free one.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r.write("etc/config/easycwmp", fmt.Sprintf(`
config local
	option enable '1'
	option interface 'lo'
	option port '%d'
	option ubus_socket '/var/run/ubus/ubus.sock'
	option date_format '%%FT%%T%%z'
	option username ''
	option password ''
	option logging_level '3'

config acs
	option url '%s/'
	option username ''
	option password ''
	option parameter_key ''
	option periodic_enable '0'
	option periodic_interval '100'
	option periodic_time '0001-01-01T00:00:00Z'

config device
	option manufacturer 'trustjoin'
	option oui '00D09E'
	option product_class 'router'
	option serial_number 'test-1'
	option hardware_version 'hw'
	option software_version 'sw'
`, port, srv.URL), 0o600)
	if setup != nil {
		setup(r)
	}
	e := &easycwmp{router: r, acs: a}
	// Started as its package starts it, under procd; its first session
	// (an Inform, and GetRPCMethods) is over before the test's.
	r.sh("/etc/init.d/easycwmpd start")
	r.waitUbus("tr069")
	r.log.waitFor(t, "end session ", 1)
	return e
}

// session has easycwmpd connect and run rpcs; it returns the replies once
// the session is over and easycwmp has applied what it stages (its apply
// service runs at the session's end, before the last HTTP exchange).
func (e *easycwmp) session(rpcs ...string) []*envelope {
	e.t.Helper()
	ended := e.log.count("end session ")
	replies := e.acs.session(e.t, func() error {
		if status, reply := e.ubus("tr069", "inform", map[string]any{"event": "6 connection request"}); status != 0 {
			return fmt.Errorf("ubus call tr069 inform: %d %v", status, reply)
		}
		return nil
	}, rpcs...)
	// easycwmpd applies and restarts services after the last exchange,
	// then logs the session's end.
	e.log.waitFor(e.t, "end session ", ended+1)
	return replies
}

// faults lists a SetParameterValues fault's parameters and their codes.
func faults(e *envelope) map[string]int {
	out := map[string]int{}
	if e.Body.Fault == nil {
		return out
	}
	for _, p := range e.Body.Fault.Detail.Params {
		out[p.ParameterName] = p.FaultCode
	}
	if len(out) == 0 {
		out[""] = e.Body.Fault.Detail.FaultCode
	}
	return out
}

func spv(kv ...string) string {
	var pvs [][3]string
	for i := 0; i < len(kv); i += 2 {
		pvs = append(pvs, [3]string{kv[i], kv[i+1], "string"})
	}
	return setParameterValues("k", pvs...)
}

// An ACS runs trustjoin through the real easycwmp (easycwmpd, its shell
// side under busybox ash, real ubus, rpcd, uci and jsonfilter): every item
// of issue #17 that easycwmp takes part in.
func TestEasyCWMP(t *testing.T) {
	t.Parallel()
	e := startEasyCWMP(t, "24.10", nil)
	p := func(s string) string { return root + s }
	e.stranger("tjtre0", "02:00:00:00:00:78")

	// Reads: typed values where unset, lists joined by commas, instance
	// numbers from the map.
	r := e.session(getParameterValues(root))
	got := values(t, r[0])
	for k, v := range map[string]string{
		"Enable": "1", "Ready": "true", "SegmentNumberOfEntries": "4", "Segment.2.Name": "iot", "Segment.1.Reach": "iot,guest",
		"Segment.2.Quarantine": "0", "ConfigRejectedAt": "0001-01-01T00:00:00Z", "Device.1.LastSeen": "0001-01-01T00:00:00Z",
		"DeviceNumberOfEntries": "2", "PreAuthorizedNumberOfEntries": "0", "Segment.1.Alias": "cpe-1",
		"Segment.2.Lifetime": "0", "Device.1.Stats.Dropped": "0", "Device.2.Stats.Inbound": "0", "Device.1.Stats.OpenedDestinations": "",
		"Device.2.CredentialExpires": "0001-01-01T00:00:00Z",
		"UnknownNumberOfEntries":     "1", "Unknown.1.MACAddress": "02:00:00:00:00:78", "Unknown.1.Kind": "wired",
		"Unknown.1.Segment": "guest", "Unknown.1.Interface": "tjtre0", "Unknown.1.Addresses": "192.0.2.77",
	} {
		if got[p(k)] != v {
			t.Errorf("%s = %q, want %q", k, got[p(k)], v)
		}
	}
	for _, pv := range r[0].Body.GetParameterValuesResponse.Params {
		if pv.Value.Text == "" && pv.Value.Type != "xsd:string" {
			t.Errorf("%s (%s) reads empty", pv.Name, pv.Value.Type)
		}
	}
	ids := map[string]string{got[p("Device.1.ID")]: "1", got[p("Device.2.ID")]: "2"}

	// Refused when sent (9007 each, nothing applied), and a move trustjoin
	// refuses reaches the ACS as 9007 too.
	r = e.session(
		spv(p("Segment.2.VLAN"), "5000", p("Onboarding.AKM"), "wep", p("Segment.2.Name"), "$(touch /tmp/pwned)", p("Onboarding.Timeout"), "90"),
		spv(p("Device.1.Segment"), "nosuch"),
		// A lifetime under a minute refuses the whole request.
		spv(p("Segment.2.Lifetime"), "59", p("Onboarding.Timeout"), "90"),
		spv(p("Device.1.Stats.Dropped"), "0", p("Unknown.1.Kind"), "wired"),
		getParameterValues(p("Segment.2.VLAN"), p("Onboarding.Timeout"), p("Segment.2.Lifetime")),
	)
	if diff := faults(r[0]); diff[p("Segment.2.VLAN")] != 9007 || diff[p("Onboarding.AKM")] != 9007 || diff[p("Segment.2.Name")] != 9007 || len(diff) != 3 {
		t.Errorf("bad values: faults %v", diff)
	}
	if f := faults(r[1]); f[p("Device.1.Segment")] != 9007 {
		t.Errorf("move to a segment that does not exist: faults %v (%+v)", f, r[1].Body)
	}
	if v := values(t, r[4]); v[p("Segment.2.VLAN")] != "20" || v[p("Onboarding.Timeout")] != "120" || v[p("Segment.2.Lifetime")] != "0" {
		t.Errorf("after refused writes: %v", v)
	}
	if f := faults(r[2]); f[p("Segment.2.Lifetime")] != 9007 || len(f) != 1 {
		t.Errorf("a lifetime under a minute: faults %v", f)
	}
	if f := faults(r[3]); f[p("Device.1.Stats.Dropped")] != 9008 || f[p("Unknown.1.Kind")] != 9008 {
		t.Errorf("a write of a device's behaviour: faults %v (%+v)", f, r[4].Body)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "tmp/pwned")); err == nil {
		t.Fatal("a value was run as a command")
	}

	// Settings apply at the session's end: no /etc/config/ucitrack here
	// (OpenWrt 24.10), easycwmp commits through ubus and procd reloads
	// trustjoin on its trigger.
	ready := e.log.count("msg=ready")
	r = e.session(spv(p("Onboarding.Timeout"), "90", p("Segment.1.Reach"), "iot", p("Device."+ids["d-cam"]+".Quarantined"), "1", p("Segment.3.Lifetime"), "86400", p("Segment.2.Lifetime"), "0"))
	if r[0].Body.SetParameterValuesResponse == nil {
		t.Fatalf("SetParameterValues: faults %v %+v", faults(r[0]), r[0].Body.Fault)
	}
	e.log.waitFor(t, "msg=ready", ready+1)
	cfg := e.read("etc/config/trustjoin")
	if !strings.Contains(cfg, "option timeout '90'") || !strings.Contains(cfg, "list reach 'iot'") || strings.Contains(cfg, "list reach 'guest'") ||
		strings.TrimSpace(e.sh("uci get trustjoin.guest.lifetime")) != "86400" {
		t.Errorf("config after the push:\n%s", cfg)
	}

	// A new segment named and numbered in one SetParameterValues, a
	// controller, a pre-authorised device with a long URI; instance
	// numbers and Aliases kept.
	// A real URI's I: may hold anything printable, which easycwmp's
	// staging would run through eval (but what JSON escapes, a quote or a
	// backslash: easycwmp reads its commands without read -r, and answers
	// 9005 for such a value).
	uri := strings.Replace(longURI(t), ";I:", ";I:$(touch /tmp/pwned) `id` 'q' $HOME;J:", 1)
	ready = e.log.count("msg=ready")
	r = e.session(addObject(p("Segment.")), addObject(p("Controller.")), addObject(p("PreAuthorized.")))
	seg, ctl, pa := r[0].Body.AddObjectResponse, r[1].Body.AddObjectResponse, r[2].Body.AddObjectResponse
	if seg == nil || ctl == nil || pa == nil {
		t.Fatalf("AddObject: %+v %+v %+v", r[0].Body, r[1].Body, r[2].Body)
	}
	e.log.waitFor(t, "msg=ready", ready+1) // the empty sections, skipped
	sn, cn, pn := fmt.Sprint(seg.InstanceNumber), fmt.Sprint(ctl.InstanceNumber), fmt.Sprint(pa.InstanceNumber)
	ready = e.log.count("msg=ready")
	r = e.session(spv(
		p("Segment."+sn+".Name"), "cams", p("Segment."+sn+".VLAN"), "50", p("Segment."+sn+".Isolate"), "1", p("Segment."+sn+".Alias"), "cameras",
		p("Controller."+cn+".Addresses"), "192.168.1.20,fd00::20", p("Controller."+cn+".MUDURLs"), "https://maker.example/bulb.json",
		p("PreAuthorized."+pn+".URI"), uri, p("PreAuthorized."+pn+".Segment"), "cams", p("PreAuthorized."+pn+".Name"), "Camera",
	))
	if r[0].Body.SetParameterValuesResponse == nil {
		t.Fatalf("SetParameterValues: faults %v %+v", faults(r[0]), r[0].Body.Fault)
	}
	e.log.waitFor(t, "msg=ready", ready+1)
	r = e.session(getParameterValues(p("ConfigRejected"), p("Segment."+sn+"."), p("PreAuthorized."+pn+".")))
	got = values(t, r[0])
	for k, v := range map[string]string{
		"ConfigRejected": "", "Segment." + sn + ".Name": "cams", "Segment." + sn + ".VLAN": "50", "Segment." + sn + ".Alias": "cameras",
		"PreAuthorized." + pn + ".Status": "pending", "PreAuthorized." + pn + ".URIHash": keyHash(t, uri), "PreAuthorized." + pn + ".URI": "",
	} {
		if got[p(k)] != v {
			t.Errorf("%s = %q, want %q", k, got[p(k)], v)
		}
	}
	if got := strings.TrimSpace(e.sh("uci get trustjoin.preauth_" + pn + ".uri")); got != uri {
		t.Errorf("the URI was stored as %q, sent as %q", got, uri)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "tmp/pwned")); err == nil {
		t.Fatal("a value was run as a command")
	}

	// An Alias is unique in its table; a URI must be a DPP URI.
	r = e.session(spv(p("Segment.1.Alias"), "cameras"), spv(p("PreAuthorized."+pn+".URI"), "https://maker.example/camera"))
	if f := faults(r[0]); f[p("Segment.1.Alias")] != 9007 {
		t.Errorf("a second Alias cameras: %v", f)
	}
	if f := faults(r[1]); f[p("PreAuthorized."+pn+".URI")] != 9007 {
		t.Errorf("a URI that is not a DPP URI: %v", f)
	}

	// DeleteObject: trustjoin reloads at the session's end; instance
	// numbers of the others stay.
	ready = e.log.count("msg=ready")
	r = e.session(deleteObject(p("PreAuthorized."+pn+".")), deleteObject(p("Segment.3.")))
	if r[0].Body.DeleteObjectResponse == nil || r[1].Body.DeleteObjectResponse == nil {
		t.Fatalf("DeleteObject: %+v %+v", r[0].Body, r[1].Body)
	}
	e.log.waitFor(t, "msg=ready", ready+1)
	r = e.session(getParameterValues(p("PreAuthorizedNumberOfEntries"), p("Segment."+sn+".Name"), p("SegmentNumberOfEntries"), p("ConfigRejected")))
	if v := values(t, r[0]); v[p("PreAuthorizedNumberOfEntries")] != "0" || v[p("Segment."+sn+".Name")] != "cams" || v[p("SegmentNumberOfEntries")] != "4" {
		t.Errorf("after DeleteObject: %v", v)
	}
}

// Where /etc/config/ucitrack exists (OpenWrt 23.05 with LuCI), easycwmp
// restarts only the services listed there: without trustjoin's entry a
// pushed setting never applies; the package's uci-defaults script adds it.
func TestEasyCWMPUCITrack(t *testing.T) {
	t.Parallel()
	ucitrack := "\nconfig network\n\toption init 'network'\n\nconfig system\n\toption init 'led'\n"
	e := startEasyCWMP(t, "23.05", func(r *router) { r.write("etc/config/ucitrack", ucitrack, 0o644) })
	p := func(s string) string { return root + s }
	push := func(timeout string) {
		t.Helper()
		if r := e.session(spv(p("Onboarding.Timeout"), timeout)); r[0].Body.SetParameterValuesResponse == nil {
			t.Fatalf("SetParameterValues: faults %v %+v", faults(r[0]), r[0].Body.Fault)
		}
	}
	// Without the entry: committed to the file, never applied (the
	// session is over once easycwmp has restarted what it would).
	ready := e.log.count("msg=ready")
	push("90")
	if cfg := e.read("etc/config/trustjoin"); !strings.Contains(cfg, "option timeout '90'") {
		t.Fatalf("not committed:\n%s", cfg)
	}
	if n := e.log.count("msg=ready"); n != ready {
		t.Fatalf("trustjoin reloaded without a ucitrack entry (%d → %d)", ready, n)
	}
	e.sh("sh /etc/uci-defaults/91-trustjoin-ucitrack && uci get ucitrack.@trustjoin[0].init")
	e.sh("sh /etc/uci-defaults/91-trustjoin-ucitrack") // once is enough
	if n := strings.Count(e.read("etc/config/ucitrack"), "config trustjoin"); n != 1 {
		t.Fatalf("%d trustjoin entries in ucitrack:\n%s", n, e.read("etc/config/ucitrack"))
	}
	push("100")
	e.log.waitFor(t, "msg=ready", ready+1)
	if r := e.session(getParameterValues(p("Onboarding.Timeout"), p("ConfigRejected"))); values(t, r[0])[p("ConfigRejected")] != "" {
		t.Fatalf("rejected: %v", values(t, r[0]))
	}
}
