package tr069_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// buildDir holds the daemon built for the tests; TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	if os.Getenv("TJ_TEST_JSONFILTER") == "1" {
		os.Exit(jsonfilter(os.Args[1:], os.Stdin))
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildTrustjoin builds the daemon once for the tests that need the real
// thing.
var buildTrustjoin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "trustjoin-cwmp-")
	if err != nil {
		return "", err
	}
	buildDir = dir
	bin := filepath.Join(dir, "trustjoin")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/trustjoin/trustjoin/src/cmd/trustjoin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// daemonLog collects the daemon's log lines.
type daemonLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *daemonLog) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, substr) {
			n++
		}
	}
	return n
}

func (l *daemonLog) waitFor(t *testing.T, substr string, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if l.count(substr) >= n {
			return
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("no %d× %q in the daemon log:\n%s", n, substr, strings.Join(l.lines, "\n"))
}

func dppURI(t *testing.T) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return "DPP:V:2;K:" + base64.StdEncoding.EncodeToString(der) + ";;"
}

// daemon is a real trustjoin daemon on the shipped configuration (state
// and sockets in a temporary directory) with two devices in its registry.
type daemon struct {
	bin, dir, cfgPath, lastGood string
	log                         *daemonLog
	cmd                         *exec.Cmd
}

func startDaemon(t *testing.T) *daemon {
	t.Helper()
	bin, err := buildTrustjoin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	shippedCfg, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("'/etc/trustjoin'", "'"+dir+"/state'", "'/var/run/trustjoin'", "'"+dir+"/run'",
		"'/var/run/hostapd'", "'"+dir+"/hostapd'",
		// The CPE's own firewall is not what this test is about, and it
		// must not touch the test machine's nftables.
		"option firewall '1'", "option firewall '0'").Replace(string(shippedCfg))
	d := &daemon{bin: bin, dir: dir, cfgPath: filepath.Join(dir, "trustjoin"), lastGood: filepath.Join(dir, "last-good.uci"), log: &daemonLog{}}
	if err := os.WriteFile(d.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Two devices onboarded earlier (onboarding itself needs hostapd: the
	// lab's business).
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	devices := `{"version":1,"devices":[{"id":"d-plug","name":"Plug","segment":"iot","state":"disconnected"},` +
		`{"id":"d-cam","name":"Camera","segment":"iot","state":"disconnected"}],"preauthorized":[]}`
	if err := os.WriteFile(filepath.Join(dir, "state", "devices.json"), []byte(devices), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, "daemon", "--config", d.cfgPath, "--last-good", d.lastGood)
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Signal(syscall.SIGTERM); d.cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.log.mu.Lock()
			d.log.lines = append(d.log.lines, sc.Text())
			d.log.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
	}()
	d.log.waitFor(t, "msg=ready", 1)
	return d
}

// values maps a GetParameterValuesResponse by name.
func values(t *testing.T, e *envelope) map[string]string {
	t.Helper()
	if e.Body.GetParameterValuesResponse == nil {
		t.Fatalf("not a GetParameterValuesResponse: %+v", e.Body)
	}
	out := map[string]string{}
	for _, p := range e.Body.GetParameterValuesResponse.Params {
		out[p.Name] = p.Value.Text
	}
	return out
}

// An ACS manages trustjoin over CWMP: a stub ACS and a test CPE applying
// its RPCs through the UCI file (+ SIGHUP) and `trustjoin rpcd call`, the
// paths the generated mappings name, against the real daemon. Good
// settings apply; a push with one bad value among good ones is rejected
// whole, the status says why and the last good configuration stays.
func TestCWMPExchange(t *testing.T) {
	d := startDaemon(t)
	bin, cfgPath, lastGood, log, cmd := d.bin, d.cfgPath, d.lastGood, d.log, d.cmd

	a := &acs{t: t}
	srv := httptest.NewServer(a)
	defer srv.Close()
	root := "Device.X_TRUSTJOIN_TrustJoin."
	c := &cpe{root: root, binary: bin, cfgPath: cfgPath, lastGood: lastGood, daemon: cmd.Process}

	// 1. What is there: settings from UCI, status from ubus.
	r := a.session(t, c, srv.URL, getParameterValues(root+"Enable", root+"Ready", root+"ConfigRejected",
		root+"Onboarding.Timeout", root+"MUD.SignaturePolicy", root+"SegmentNumberOfEntries",
		root+"Segment.2.Name", root+"Segment.2.VLAN", root+"PreAuthorizedNumberOfEntries", root+"BRSKI.RegistrarPort"))
	if diff := cmp.Diff(map[string]string{
		root + "Enable": "1", root + "Ready": "1", root + "ConfigRejected": "", root + "Onboarding.Timeout": "120",
		root + "MUD.SignaturePolicy": "approve", root + "SegmentNumberOfEntries": "4", root + "Segment.2.Name": "iot",
		root + "Segment.2.VLAN": "20", root + "PreAuthorizedNumberOfEntries": "0", root + "BRSKI.RegistrarPort": "443",
	}, values(t, r[0])); diff != "" {
		t.Fatalf("first GetParameterValues (-want +got):\n%s", diff)
	}

	// 2. Good settings, a new segment, and a pre-authorised camera.
	uri := dppURI(t)
	r = a.session(t, c, srv.URL,
		setParameterValues("k1", [3]string{root + "Onboarding.Timeout", "90", "unsignedInt"},
			[3]string{root + "MUD.SignaturePolicy", "require", "string"},
			[3]string{root + "MUD.TrustAnchors", "/etc/trustjoin/isp-ca.pem,/etc/trustjoin/vendor-ca.pem", "string"},
			[3]string{root + "BRSKI.RegistrarHost", "registrar.isp.example", "string"}),
		addObject(root+"Segment."),
		setParameterValues("k2", [3]string{root + "Segment.5.VLAN", "50", "unsignedInt"}, [3]string{root + "Segment.5.Isolate", "1", "boolean"}),
		addObject(root+"PreAuthorized."),
		setParameterValues("k3", [3]string{root + "PreAuthorized.1.URI", uri, "string"}, [3]string{root + "PreAuthorized.1.Segment", "guest", "string"}),
		addObject(root+"Controller."),
		setParameterValues("k4", [3]string{root + "Controller.1.Addresses", "192.168.1.20,fd00::20", "string"},
			[3]string{root + "Controller.1.MUDURLs", "https://maker.example/bulb.json", "string"}),
	)
	if r[0].Body.SetParameterValuesResponse == nil || r[1].Body.AddObjectResponse == nil || r[1].Body.AddObjectResponse.InstanceNumber != 5 ||
		r[3].Body.AddObjectResponse == nil || r[3].Body.AddObjectResponse.InstanceNumber != 1 || r[4].Body.SetParameterValuesResponse == nil ||
		r[5].Body.AddObjectResponse == nil || r[5].Body.AddObjectResponse.InstanceNumber != 1 || r[6].Body.SetParameterValuesResponse == nil {
		for _, e := range r {
			if e.Body.Fault != nil {
				t.Errorf("fault: %+v", e.Body.Fault.Detail)
			}
		}
		t.Fatalf("session 2 replies: %+v %+v %+v %+v %+v %+v %+v", r[0].Body, r[1].Body, r[2].Body, r[3].Body, r[4].Body, r[5].Body, r[6].Body)
	}
	log.waitFor(t, "msg=ready", 2) // the committed file was applied
	r = a.session(t, c, srv.URL, getParameterValues(root+"ConfigRejected", root+"Onboarding.Timeout", root+"MUD.TrustAnchors",
		root+"SegmentNumberOfEntries", root+"Segment.5.Name", root+"PreAuthorizedNumberOfEntries",
		root+"PreAuthorized.1.Segment", root+"PreAuthorized.1.URI", root+"PreAuthorized.1.AddedBy",
		root+"ControllerNumberOfEntries", root+"Controller.1.Addresses", root+"Controller.1.MUDURLs"))
	if diff := cmp.Diff(map[string]string{
		root + "ConfigRejected": "", root + "Onboarding.Timeout": "90",
		root + "MUD.TrustAnchors":       "/etc/trustjoin/isp-ca.pem,/etc/trustjoin/vendor-ca.pem",
		root + "SegmentNumberOfEntries": "5", root + "Segment.5.Name": "segment_5", root + "PreAuthorizedNumberOfEntries": "1",
		root + "PreAuthorized.1.Segment": "guest", root + "PreAuthorized.1.URI": "", root + "PreAuthorized.1.AddedBy": "acs",
		root + "ControllerNumberOfEntries": "1", root + "Controller.1.Addresses": "192.168.1.20,fd00::20",
		root + "Controller.1.MUDURLs": "https://maker.example/bulb.json",
	}, values(t, r[0])); diff != "" {
		t.Fatalf("after the good push (-want +got):\n%s", diff)
	}
	good, err := os.ReadFile(lastGood)
	if err != nil || !strings.Contains(string(good), "'registrar.isp.example'") || !strings.Contains(string(good), "config segment 'segment_5'") ||
		!strings.Contains(string(good), "config controller 'controller_1'") {
		t.Fatalf("the daemon's last good configuration is not the pushed one: %v\n%s", err, good)
	}

	// Devices: moved and quarantined through the rpcd methods; instance
	// numbers follow the list (by name).
	r = a.session(t, c, srv.URL,
		setParameterValues("d1", [3]string{root + "Device.1.Segment", "guest", "string"}, [3]string{root + "Device.2.Quarantined", "1", "boolean"}),
		getParameterValues(root+"DeviceNumberOfEntries", root+"Device.1.Name", root+"Device.1.Segment", root+"Device.2.ID",
			root+"Device.2.Quarantined", root+"Device.2.Segment", root+"Stats.DevicesQuarantined"),
		setParameterValues("d2", [3]string{root + "Device.2.Quarantined", "0", "boolean"}),
		getParameterValues(root+"Device.2.Quarantined", root+"Device.2.Segment", root+"Stats.DevicesQuarantined"),
		setParameterValues("d3", [3]string{root + "Device.1.Segment", "nowhere", "string"}),
	)
	if r[0].Body.SetParameterValuesResponse == nil || r[0].Body.SetParameterValuesResponse.Status != 0 {
		t.Fatalf("device writes: %+v", r[0].Body)
	}
	if diff := cmp.Diff(map[string]string{
		root + "DeviceNumberOfEntries": "2", root + "Device.1.Name": "Camera", root + "Device.1.Segment": "guest", root + "Device.2.ID": "d-plug",
		root + "Device.2.Quarantined": "1", root + "Device.2.Segment": "quarantine", root + "Stats.DevicesQuarantined": "1",
	}, values(t, r[1])); diff != "" {
		t.Fatalf("after moving and quarantining (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{
		root + "Device.2.Quarantined": "0", root + "Device.2.Segment": "iot", root + "Stats.DevicesQuarantined": "0",
	}, values(t, r[3])); diff != "" {
		t.Fatalf("after releasing (-want +got):\n%s", diff)
	}
	if f := r[4].Body.Fault; f == nil || !strings.Contains(f.Detail.FaultString, "nowhere") {
		t.Fatalf("a move to a segment that does not exist: %+v", r[4].Body)
	}

	// 3. A type error is refused by the CPE before anything is applied.
	r = a.session(t, c, srv.URL, setParameterValues("k4", [3]string{root + "Onboarding.Timeout", "30", "unsignedInt"},
		[3]string{root + "Onboarding.AKM", "wep", "string"}, [3]string{root + "Version", "1", "string"}))
	f := r[0].Body.Fault
	if f == nil || f.Detail.FaultCode != faultInvalidArgs || len(f.Detail.Params) != 2 ||
		f.Detail.Params[0].FaultCode != faultInvalidValue || f.Detail.Params[1].FaultCode != faultNotWritable {
		t.Fatalf("bad SetParameterValues: %+v", r[0].Body)
	}

	// 4. A push trustjoin refuses (VLAN out of range) beside a good value:
	// rejected whole, visible in the status, the last good one stays.
	before := log.count("msg=ready")
	a.session(t, c, srv.URL, setParameterValues("k5", [3]string{root + "Onboarding.Timeout", "30", "unsignedInt"},
		[3]string{root + "Segment.5.VLAN", "5000", "unsignedInt"}))
	log.waitFor(t, "new configuration rejected", 1)
	r = a.session(t, c, srv.URL, getParameterValues(root+"ConfigRejected", root+"Ready", root+"PreAuthorizedNumberOfEntries"))
	v := values(t, r[0])
	if !strings.Contains(v[root+"ConfigRejected"], `"vlan"`) || v[root+"Ready"] != "1" || v[root+"PreAuthorizedNumberOfEntries"] != "1" {
		t.Fatalf("after the bad push: %v", v)
	}
	if good2, _ := os.ReadFile(lastGood); string(good2) != string(good) || log.count("msg=ready") != before {
		t.Fatalf("the rejected file was (partly) applied; last good now:\n%s", good2)
	}
	if strings.Contains(string(good), "option timeout '30'") || !strings.Contains(string(good), "option timeout '90'") {
		t.Fatal("the good half of the rejected push is in force")
	}

	// 5. The corrected push applies, and the rejection is cleared.
	a.session(t, c, srv.URL, setParameterValues("k6", [3]string{root + "Segment.5.VLAN", "55", "unsignedInt"}))
	log.waitFor(t, "msg=ready", before+1)
	r = a.session(t, c, srv.URL, getParameterValues(root+"ConfigRejected", root+"Onboarding.Timeout", root+"Segment.5.VLAN"))
	if diff := cmp.Diff(map[string]string{root + "ConfigRejected": "", root + "Onboarding.Timeout": "30", root + "Segment.5.VLAN": "55"}, values(t, r[0])); diff != "" {
		t.Fatalf("after the corrected push (-want +got):\n%s", diff)
	}
	if good3, _ := os.ReadFile(lastGood); !strings.Contains(string(good3), "option timeout '30'") {
		t.Fatalf("last good after the corrected push:\n%s", good3)
	}

	// 6. DeleteObject: the pre-authorised device and the segment go.
	r = a.session(t, c, srv.URL, deleteObject(root+"PreAuthorized.1."), deleteObject(root+"Segment.5."),
		setParameterValues("k7", [3]string{root + "Segment.1.Reach", "iot", "string"}))
	if r[0].Body.DeleteObjectResponse == nil || r[1].Body.DeleteObjectResponse == nil {
		t.Fatalf("DeleteObject: %+v %+v", r[0].Body, r[1].Body)
	}
	log.waitFor(t, "msg=ready", before+2)
	r = a.session(t, c, srv.URL, getParameterValues(root+"PreAuthorizedNumberOfEntries", root+"SegmentNumberOfEntries", root+"ConfigRejected"))
	if diff := cmp.Diff(map[string]string{root + "PreAuthorizedNumberOfEntries": "0", root + "SegmentNumberOfEntries": "4", root + "ConfigRejected": ""}, values(t, r[0])); diff != "" {
		t.Fatalf("after DeleteObject (-want +got):\n%s", diff)
	}
	if a.informs != 11 {
		t.Fatalf("%d sessions opened with Inform, want 11", a.informs)
	}
}
