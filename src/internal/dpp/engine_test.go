package dpp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/dpp"
	"github.com/trustjoin/trustjoin/src/internal/hostapd"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// fakeCtrl records commands and answers like hostapd, for the engine's
// edge cases; the real exchange runs in the lab (test/lab/scenarios/dpp.sh).
type fakeCtrl struct {
	mu       sync.Mutex
	cmds     []string
	replies  map[string]string // by verb
	failures map[string]error
	nextID   int
	// configurators are the ids this hostapd knows; a restarted one knows none.
	configurators map[string]bool
}

func newCtrl() *fakeCtrl {
	return &fakeCtrl{replies: map[string]string{
		"GET_CAPABILITY": "DPP=2", "GET_CONFIG": "ssid=Home\nkey_mgmt=WPA-PSK", "STATUS": "freq=2437",
	}, failures: map[string]error{}, configurators: map[string]bool{}}
}

func (f *fakeCtrl) Command(_ context.Context, cmd string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, cmd)
	v, _, _ := strings.Cut(cmd, " ")
	if err := f.failures[v]; err != nil {
		return "", err
	}
	if r, ok := f.replies[v]; ok {
		return r, nil
	}
	switch v {
	case "DPP_CONFIGURATOR_GET_KEY":
		if !f.configurators[strings.TrimPrefix(cmd, v+" ")] {
			return "", hostapd.ErrFail
		}
		return "30770201010420aabbcc", nil
	case "DPP_CONFIGURATOR_ADD":
		f.nextID++
		id := fmt.Sprint(f.nextID)
		f.configurators[id] = true
		return id, nil
	case "DPP_QR_CODE", "DPP_BOOTSTRAP_GEN", "DPP_PKEX_ADD":
		f.nextID++
		return fmt.Sprint(f.nextID), nil
	}
	return "OK", nil
}

func (f *fakeCtrl) sent(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.cmds {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

type rig struct {
	e    *dpp.Engine
	c    *fakeCtrl
	reg  *registry.Registry
	psk  *credential.PSKFile
	logs *bytes.Buffer
	dir  string
}

func newRig(t *testing.T, timeout time.Duration) *rig { return newRigFor(t, timeout, "", "Home") }

// newRigFor is a rig whose devices are configured for conf (default
// sta-psk) on an access point whose GET_CONFIG shows ssid.
func newRigFor(t *testing.T, timeout time.Duration, conf, ssid string) *rig {
	dir := t.TempDir()
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg, err := registry.Open(filepath.Join(dir, "devices.json"), log)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{c: newCtrl(), reg: reg, psk: credential.Open(filepath.Join(dir, "wlan0.psk")), logs: logs, dir: dir}
	r.c.replies["GET_CONFIG"] = "ssid=" + ssid + "\nkey_mgmt=WPA-PSK"
	r.e = dpp.New(dpp.Options{
		Log: log, Registry: reg, StateDir: dir, Timeout: timeout, DefaultSegment: "iot", Conf: conf,
		PKEXAttempts: 2, PKEXWindow: time.Minute,
		VLAN: func(s string) (int, bool) { v, ok := map[string]int{"iot": 20, "guest": 30}[s]; return v, ok },
	})
	r.e.AddBSS("wlan0", r.c, r.psk)
	if err := r.e.Attach(context.Background(), "wlan0", r.c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// testURI is a device's code with a fresh key, as a real device prints it.
func testURI(t *testing.T) string { return "DPP:C:81/6;V:2;K:" + spki(t, true, false) + ";;" }

func (r *rig) wait(t *testing.T, id string, states ...string) dpp.Request {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := r.e.Progress(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if p.State == s {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("request stuck in %q (%s), want %v", p.State, p.Error, states)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ev(name string, args ...string) hostapd.Event {
	e, _ := hostapd.ParseEvent("wlan0", "<3>"+strings.TrimSpace(name+" "+strings.Join(args, " ")))
	return e
}

func TestQROnboardingSuccess(t *testing.T) {
	r := newRig(t, 5*time.Second)
	req, err := r.e.Onboard(dpp.OnboardRequest{Method: "qr", URI: testURI(t), Name: "Camera"})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, req.ID, "running")
	// The credential is in place before the exchange starts.
	for len(r.c.sent("DPP_AUTH_INIT")) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	pass, ok, _ := r.psk.Lookup(req.DeviceID)
	if !ok {
		t.Fatal("no credential line before DPP_AUTH_INIT")
	}
	auth := r.c.sent("DPP_AUTH_INIT")[0]
	// conf=sta-psk: the PSK hostapd needs no PBKDF2 for, in the file and
	// over DPP.
	if !pass.IsPSK() || !strings.Contains(auth, " "+pass.DPPParam()+" ") || !strings.Contains(auth, "ssid=486f6d65") || !strings.Contains(auth, "conf=sta-psk") {
		t.Fatalf("DPP_AUTH_INIT does not carry the device's credential: %q", auth)
	}
	r.e.HandleEvent(ev("DPP-AUTH-SUCCESS", "init=1"))
	r.e.HandleEvent(ev("DPP-CONF-SENT"))
	r.wait(t, req.ID, "configured")
	// Another device's connection does not finish this request.
	r.e.HandleEvent(ev("AP-STA-CONNECTED", "02:00:00:00:09:00", "keyid=d-other"))
	r.e.HandleEvent(ev("AP-STA-CONNECTED", "02:00:00:00:01:00", "keyid="+req.DeviceID))
	r.wait(t, req.ID, "connected")
	d, err := r.reg.Get(req.DeviceID)
	if err != nil || d.State != registry.StateConnected || d.MACs[0] != "02:00:00:00:01:00" || d.Segment != "iot" {
		t.Fatalf("device %+v %v", d, err)
	}
	if strings.Contains(r.logs.String(), strings.TrimPrefix(pass.DPPParam(), "psk=")) || strings.Contains(r.logs.String(), "pass=") || strings.Contains(r.logs.String(), "psk=") {
		t.Fatal("a credential reached the log")
	}
}

// The PSK file gets derived PSKs only where that is sure to work: devices
// configured for WPA2-PSK alone, on an SSID whose bytes GET_CONFIG shows
// as they are; otherwise passphrases, as SAE and DPP need them.
func TestCredentialForm(t *testing.T) {
	for _, tt := range []struct {
		name, conf, ssid string
		psk              bool
	}{
		{"psk", "sta-psk", "Home", true},
		{"default is psk", "", "Home net 5G", true},
		{"psk-sae", "sta-psk-sae", "Home", false},
		{"sae", "sta-sae", "Home", false},
		{"escaped SSID", "sta-psk", `Caf\xc3\xa9`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRigFor(t, 5*time.Second, tt.conf, tt.ssid)
			req, err := r.e.Onboard(dpp.OnboardRequest{Method: "qr", URI: testURI(t), Name: "Camera"})
			if err != nil {
				t.Fatal(err)
			}
			r.wait(t, req.ID, "running")
			for len(r.c.sent("DPP_AUTH_INIT")) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			pass, ok, _ := r.psk.Lookup(req.DeviceID)
			auth := r.c.sent("DPP_AUTH_INIT")[0]
			if !ok || pass.IsPSK() != tt.psk || !strings.Contains(auth, " "+pass.DPPParam()+" ") {
				t.Fatalf("line is a PSK: %v, want %v; DPP_AUTH_INIT %q", pass.IsPSK(), tt.psk, auth)
			}
			want := "pass="
			if tt.psk {
				want = "psk="
			}
			if !strings.HasPrefix(pass.DPPParam(), want) {
				t.Fatalf("DPP gets %s…, want %s", pass.DPPParam()[:5], want)
			}
		})
	}
}

func TestOnboardingFailures(t *testing.T) {
	tests := []struct {
		name, event, args, wantErr string
	}{
		{"no answer", "DPP-AUTH-INIT-FAILED", "", "the device did not answer"},
		{"device wants to configure", "DPP-FAIL", "Configurator rejected configuration", "the device asked to configure the router"},
		{"conf refused", "DPP-CONF-FAILED", "", "the device refused the network's settings"},
		{"timeout", "", "", "the device did not answer in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 300*time.Millisecond)
			req, err := r.e.Onboard(dpp.OnboardRequest{Method: "qr", URI: testURI(t)})
			if err != nil {
				t.Fatal(err)
			}
			r.wait(t, req.ID, "running")
			for len(r.c.sent("DPP_AUTH_INIT")) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			if tt.event != "" {
				r.e.HandleEvent(ev(tt.event, tt.args))
			}
			p := r.wait(t, req.ID, "failed")
			if !strings.Contains(p.Error, tt.wantErr) || p.Hint == "" {
				t.Fatalf("error %q hint %q, want %q and a hint", p.Error, p.Hint, tt.wantErr)
			}
			// A failed first onboarding leaves no credential behind.
			if _, ok, _ := r.psk.Lookup(req.DeviceID); ok {
				t.Fatal("failed onboarding left a working credential")
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	r := newRig(t, time.Second)
	for _, req := range []dpp.OnboardRequest{
		{Method: "qr", URI: "WIFI:S:x;;"},
		{Method: "qr", URI: testURI(t), Segment: "nowhere"},
		{Method: "pkex", Code: "123"},
		// Parameters smuggled to hostapd inside the code or identifier.
		{Method: "pkex", Code: "abcdef init=1 tcp_addr=10.99.0.2 tcp_port=80"},
		{Method: "pkex", Code: "abcdef\x00 init=1"},
		{Method: "pkex", Code: "abcdef", Identifier: "id\tinit=1"},
		{Method: "nfc"},
		{Method: "qr", URI: testURI(t), Ifname: "wlan7"},
	} {
		if _, err := r.e.Onboard(req); !errors.Is(err, dpp.ErrInvalid) {
			t.Errorf("%+v: want ErrInvalid, got %v", req, err)
		}
	}
	// One PKEX code per access point at a time.
	if _, err := r.e.Onboard(dpp.OnboardRequest{Method: "pkex", Code: "first-code"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.Onboard(dpp.OnboardRequest{Method: "pkex", Code: "second-code"}); !errors.Is(err, dpp.ErrBusy) {
		t.Fatalf("want ErrBusy for a second PKEX code, got %v", err)
	}
}

func TestPKEXWrongCodesRateLimited(t *testing.T) {
	r := newRig(t, 2*time.Second)
	for i := 0; i < 2; i++ {
		req, err := r.e.Onboard(dpp.OnboardRequest{Method: "pkex", Code: "wrong-code"})
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		r.wait(t, req.ID, "running")
		for len(r.c.sent("DPP_LISTEN")) <= i {
			time.Sleep(5 * time.Millisecond)
		}
		r.e.HandleEvent(ev("DPP-FAIL", "PKEX", "exchange", "failed"))
		r.wait(t, req.ID, "failed")
	}
	if _, err := r.e.Onboard(dpp.OnboardRequest{Method: "pkex", Code: "third-try"}); !errors.Is(err, dpp.ErrBusy) {
		t.Fatalf("want the third wrong code refused, got %v", err)
	}
	if strings.Contains(r.logs.String(), "wrong-code") {
		t.Fatal("a PKEX code reached the log")
	}
}

// After hostapd restarts, the engine restores the same configurator from
// the persisted key, so devices configured before stay valid.
func TestReattachRestoresConfigurator(t *testing.T) {
	r := newRig(t, time.Second)
	key, err := os.ReadFile(filepath.Join(r.dir, "configurator.key"))
	if err != nil || strings.TrimSpace(string(key)) != "30770201010420aabbcc" {
		t.Fatalf("configurator key not persisted: %q %v", key, err)
	}
	if fi, _ := os.Stat(filepath.Join(r.dir, "configurator.key")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("configurator key mode %v", fi.Mode().Perm())
	}
	fresh := newCtrl()
	if err := r.e.Attach(context.Background(), "wlan0", fresh); err != nil {
		t.Fatal(err)
	}
	adds := fresh.sent("DPP_CONFIGURATOR_ADD")
	if len(adds) != 1 || adds[0] != "DPP_CONFIGURATOR_ADD key=30770201010420aabbcc" {
		t.Fatalf("configurator not restored from its key: %q", adds)
	}
	if len(fresh.sent("RELOAD_WPA_PSK")) == 0 {
		t.Fatal("PSK file not reloaded after reconnecting")
	}
}

// A reconnection to a hostapd that kept its state reuses its configurator.
func TestReattachSameHostapdKeepsConfigurator(t *testing.T) {
	r := newRig(t, time.Second)
	if err := r.e.Attach(context.Background(), "wlan0", r.c); err != nil {
		t.Fatal(err)
	}
	if adds := r.c.sent("DPP_CONFIGURATOR_ADD"); len(adds) != 1 {
		t.Fatalf("configurator added %d times: %q", len(adds), adds)
	}
}

func TestNoDPP(t *testing.T) {
	r := newRig(t, time.Second)
	noDPP := newCtrl()
	noDPP.failures["GET_CAPABILITY"] = hostapd.ErrUnknownCommand
	if err := r.e.Attach(context.Background(), "wlan0", noDPP); err != nil {
		t.Fatal(err)
	}
	_, err := r.e.Onboard(dpp.OnboardRequest{Method: "qr", URI: testURI(t)})
	if !errors.Is(err, dpp.ErrUnavailable) || !strings.Contains(err.Error(), "install wpad-openssl or wpad-mbedtls") {
		t.Fatalf("want a clear no-DPP error with the fix, got %v", err)
	}
}

func TestRemoveWithdrawsCredential(t *testing.T) {
	r := newRig(t, time.Second)
	p, _ := credential.NewPassphrase()
	r.psk.Set("d-1", 20, p)
	r.reg.Put(registry.Device{ID: "d-1", KeyID: "d-1", Name: "Cam", MACs: []string{"02:00:00:00:01:00"}, State: registry.StateConnected})
	if _, err := r.e.Remove(context.Background(), "Cam"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := r.psk.Lookup("d-1"); ok {
		t.Fatal("credential line still present")
	}
	for _, want := range []string{"RELOAD_WPA_PSK", "DEAUTHENTICATE 02:00:00:00:01:00", "PMKSA_FLUSH"} {
		if len(r.c.sent(want)) == 0 {
			t.Errorf("remove did not send %s", want)
		}
	}
	if _, err := r.reg.Get("d-1"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("removed device still listed: %v", err)
	}
}

// An ISP pushes its devices in bulk: every URI is checked, bad ones are
// reported by index and the good ones kept and armed for chirping.
func TestBulkPreauthorize(t *testing.T) {
	r := newRig(t, time.Second)
	var entries []dpp.PreauthEntry
	for i := 0; i < 1000; i++ {
		uri := testURI(t)
		if i%10 == 3 {
			uri = strings.Replace(uri, "K:", "K:@", 1) // broken base64
		}
		entries = append(entries, dpp.PreauthEntry{URI: uri, Segment: "iot", AddedBy: "isp"})
	}
	added, errs := r.e.Preauthorize(entries)
	if len(added) != 900 || len(errs) != 100 {
		t.Fatalf("added %d, refused %d; want 900 and 100", len(added), len(errs))
	}
	for i, err := range errs {
		if i%10 != 3 || !strings.Contains(err.Error(), "K: the public key is not valid base64") {
			t.Fatalf("entry %d refused for %v", i, err)
		}
	}
	if got := len(r.reg.Preauths()); got != 900 {
		t.Fatalf("registry holds %d pre-authorised devices", got)
	}
	if got := len(r.c.sent("DPP_BOOTSTRAP_SET")); got != 900 {
		t.Fatalf("%d devices armed for chirping, want 900", got)
	}
	ids, _ := r.psk.KeyIDs()
	if len(ids) != 900 {
		t.Fatalf("%d credential lines, want 900", len(ids))
	}
	// Each line a PSK, so hostapd's reloads derive nothing; DPP carries
	// the same PSK.
	passes, _ := r.psk.Passphrases()
	sets := strings.Join(r.c.sent("DPP_BOOTSTRAP_SET"), "\n")
	for id, p := range passes {
		if !p.IsPSK() || !strings.Contains(sets, " "+p.DPPParam()+" ") {
			t.Fatalf("%s: not armed with the PSK in its line", id)
		}
	}
	if strings.Contains(sets, "pass=") {
		t.Fatal("a pre-authorised device is armed with a passphrase")
	}
	// Armed again (hostapd restarted): nothing is derived or changed.
	before, _ := os.ReadFile(r.psk.Path())
	if err := r.e.Attach(context.Background(), "wlan0", r.c); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(r.psk.Path()); !bytes.Equal(before, after) {
		t.Fatal("re-arming changed the PSK file")
	}
}

// A PSK is bound to one SSID: a PSK file shared with an access point of
// another SSID keeps passphrases.
func TestSharedPSKFileKeepsPassphrases(t *testing.T) {
	r := newRig(t, 5*time.Second)
	office := newCtrl()
	office.replies["GET_CONFIG"] = "ssid=Office\nkey_mgmt=WPA-PSK"
	r.e.AddBSS("wlan1", office, credential.Open(r.psk.Path()))
	if err := r.e.Attach(context.Background(), "wlan1", office); err != nil {
		t.Fatal(err)
	}
	req, err := r.e.Onboard(dpp.OnboardRequest{Method: "qr", URI: testURI(t), Name: "Camera", Ifname: "wlan0"})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, req.ID, "running")
	if pass, ok, _ := r.psk.Lookup(req.DeviceID); !ok || pass.IsPSK() {
		t.Fatalf("line is a PSK (%v) in a file two SSIDs share", ok)
	}
}

// A PSK device cannot be reconfigured over DPP: rotation keeps its working
// credential and asks for a new scan, which then replaces it.
func TestRotateAsksForRescan(t *testing.T) {
	r := newRig(t, time.Second)
	p, _ := credential.NewPassphrase()
	r.psk.Set("d-1", 20, p)
	r.reg.Put(registry.Device{ID: "d-1", KeyID: "d-1", Name: "Cam", State: registry.StateConnected})
	d, err := r.e.Rotate(context.Background(), "d-1")
	if err != nil || d.State != registry.StateNeedsReonboarding {
		t.Fatalf("Rotate: %+v %v", d, err)
	}
	if got, ok, _ := r.psk.Lookup("d-1"); !ok || !got.Equal(p) {
		t.Fatal("rotation cut the device off before it was scanned again")
	}
	// A later connection must not hide that a rescan is due.
	r.e.HandleEvent(ev("AP-STA-CONNECTED", "02:00:00:00:01:00", "keyid=d-1"))
	if d, _ := r.reg.Get("d-1"); d.State != registry.StateNeedsReonboarding {
		t.Fatalf("state after reconnecting: %s", d.State)
	}
	if _, err := r.e.Rotate(context.Background(), "nobody"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("rotating an unknown device: %v", err)
	}
}
