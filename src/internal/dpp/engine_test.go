package dpp_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/device"
	"github.com/trustjoin/trustjoin/src/internal/dpp"
	"github.com/trustjoin/trustjoin/src/internal/dpp/dpptest"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/hostapd"
	"github.com/trustjoin/trustjoin/src/internal/mud"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// rig is an engine on fake hostapd, with the device owner it reports to.
type rig struct {
	e *dpp.Engine
	o *device.Owner
	c *dpptest.Ctrl
	// more are the other access points' hostapd, by interface.
	more map[string]*dpptest.Ctrl
	reg  *registry.Registry
	psk  *credential.PSKFile
	logs *bytes.Buffer
	dir  string
}

func newRig(t *testing.T, timeout time.Duration) *rig { return newRigFor(t, timeout, "", "Home") }

// newRigFor is a rig whose devices are configured for conf (default
// sta-psk) on an access point whose GET_CONFIG shows ssid.
func newRigFor(t *testing.T, timeout time.Duration, conf, ssid string, more ...string) *rig {
	dir := t.TempDir()
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg, err := registry.Open(filepath.Join(dir, "devices.json"), log)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{c: dpptest.NewCtrl(), reg: reg, psk: credential.Open(filepath.Join(dir, "wlan0.psk")), logs: logs, dir: dir}
	r.c.Replies["GET_CONFIG"] = "ssid=" + ssid + "\nkey_mgmt=WPA-PSK"
	r.e = dpp.New(dpp.Options{
		Log: log, StateDir: dir, Timeout: timeout, Conf: conf,
		PKEXAttempts: 2, PKEXWindow: time.Minute,
	})
	o := device.Options{
		Log: log, Registry: reg, Radio: r.e, DefaultSegment: "iot",
		Segments:     []config.Segment{{Name: "iot", VLAN: 20}, {Name: "guest", VLAN: 30}, {Name: "quarantine", VLAN: 99, Quarantine: true}},
		AccessPoints: []credential.AccessPoint{{Ifname: "wlan0", File: r.psk, Ctrl: r.c}},
		// MUD URLs are recorded; their files are never fetched here.
		MUD: mudpolicy.New(mudpolicy.Options{Source: nowhere{}}),
	}
	r.e.AddBSS("wlan0", r.c, r.psk)
	r.more = map[string]*dpptest.Ctrl{}
	for _, ifname := range more {
		c := dpptest.NewCtrl()
		psk := credential.Open(filepath.Join(dir, ifname+".psk"))
		r.e.AddBSS(ifname, c, psk)
		o.AccessPoints = append(o.AccessPoints, credential.AccessPoint{Ifname: ifname, File: psk, Ctrl: c})
		r.more[ifname] = c
	}
	r.o = device.New(o)
	r.e.SetDevices(r.o)
	if err := r.e.Attach(context.Background(), "wlan0", r.c); err != nil {
		t.Fatal(err)
	}
	for ifname, c := range r.more {
		if err := r.e.Attach(context.Background(), ifname, c); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { r.e.Run(ctx); done <- struct{}{} }()
	go func() { r.o.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return r
}

// onboard asks the device owner, as the householder unless q says.
func (r *rig) onboard(q device.OnboardRequest) (dpp.Request, error) {
	return r.o.Onboard(context.Background(), q)
}

// nowhere is a MUD source that never has the file.
type nowhere struct{}

func (nowhere) Get(context.Context, string) (*mud.Result, error) {
	return nil, errors.New("no network here")
}
func (nowhere) Cached(string) (*mud.Result, bool) { return nil, false }
func (nowhere) Signature(context.Context, string) ([]byte, error) {
	return nil, errors.New("no network here")
}
func (nowhere) CachedSignature(string) ([]byte, bool) { return nil, false }

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
func testURI(t *testing.T) string { return dpptest.URI(t) }

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
	req, err := r.onboard(device.OnboardRequest{Method: "qr", URI: testURI(t), Name: "Camera"})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, req.ID, "running")
	// The credential is in place before the exchange starts.
	for len(r.c.Sent("DPP_AUTH_INIT")) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	pass, ok, _ := r.psk.Lookup(req.DeviceID)
	if !ok {
		t.Fatal("no credential line before DPP_AUTH_INIT")
	}
	auth := r.c.Sent("DPP_AUTH_INIT")[0]
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
			req, err := r.onboard(device.OnboardRequest{Method: "qr", URI: testURI(t), Name: "Camera"})
			if err != nil {
				t.Fatal(err)
			}
			r.wait(t, req.ID, "running")
			for len(r.c.Sent("DPP_AUTH_INIT")) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			pass, ok, _ := r.psk.Lookup(req.DeviceID)
			auth := r.c.Sent("DPP_AUTH_INIT")[0]
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
			req, err := r.onboard(device.OnboardRequest{Method: "qr", URI: testURI(t)})
			if err != nil {
				t.Fatal(err)
			}
			r.wait(t, req.ID, "running")
			for len(r.c.Sent("DPP_AUTH_INIT")) == 0 {
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
	for _, req := range []device.OnboardRequest{
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
		if _, err := r.onboard(req); !fault.Is(err, fault.Invalid) {
			t.Errorf("%+v: want ErrInvalid, got %v", req, err)
		}
	}
	// One PKEX code per access point at a time.
	if _, err := r.onboard(device.OnboardRequest{Method: "pkex", Code: "first-code"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.onboard(device.OnboardRequest{Method: "pkex", Code: "second-code"}); !fault.Is(err, fault.Conflict) {
		t.Fatalf("want ErrBusy for a second PKEX code, got %v", err)
	}
}

func TestPKEXWrongCodesRateLimited(t *testing.T) {
	r := newRig(t, 2*time.Second)
	for i := 0; i < 2; i++ {
		req, err := r.onboard(device.OnboardRequest{Method: "pkex", Code: "wrong-code"})
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		r.wait(t, req.ID, "running")
		for len(r.c.Sent("DPP_LISTEN")) <= i {
			time.Sleep(5 * time.Millisecond)
		}
		r.e.HandleEvent(ev("DPP-FAIL", "PKEX", "exchange", "failed"))
		r.wait(t, req.ID, "failed")
	}
	if _, err := r.onboard(device.OnboardRequest{Method: "pkex", Code: "third-try"}); !fault.Is(err, fault.Conflict) {
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
	fresh := dpptest.NewCtrl()
	if err := r.e.Attach(context.Background(), "wlan0", fresh); err != nil {
		t.Fatal(err)
	}
	adds := fresh.Sent("DPP_CONFIGURATOR_ADD")
	if len(adds) != 1 || adds[0] != "DPP_CONFIGURATOR_ADD key=30770201010420aabbcc" {
		t.Fatalf("configurator not restored from its key: %q", adds)
	}
	// The file is as hostapd was last told: a reload would only disconnect
	// the stations still connecting (seen in the lab: a reconnection to a
	// busy hostapd, each reload dropping the devices coming back).
	if n := len(fresh.Sent("RELOAD_WPA_PSK")); n != 0 {
		t.Fatalf("PSK file reloaded %d times after reconnecting, unchanged", n)
	}
	// Written while hostapd could not be told: the next connection tells it.
	p, err := credential.NewPassphrase()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.psk.Set("d-0000feed", 20, p); err != nil {
		t.Fatal(err)
	}
	again := dpptest.NewCtrl()
	if err := r.e.Attach(context.Background(), "wlan0", again); err != nil {
		t.Fatal(err)
	}
	if len(again.Sent("RELOAD_WPA_PSK")) != 1 {
		t.Fatal("PSK file written while hostapd was away not reloaded after reconnecting")
	}
}

// A device that connects while trustjoin reconnects to a busy hostapd
// (its AP-STA-CONNECTED sent to the listener the reconnection replaced)
// is found among hostapd's stations and onboarded, not reported failed.
func TestConnectedWhileReconnecting(t *testing.T) {
	r := newRig(t, 5*time.Second)
	req, err := r.onboard(device.OnboardRequest{Method: "qr", URI: testURI(t), Name: "Camera"})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, req.ID, "running")
	for len(r.c.Sent("DPP_AUTH_INIT")) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	r.e.HandleEvent(ev("DPP-AUTH-SUCCESS", "init=1"))
	r.e.HandleEvent(ev("DPP-CONF-SENT"))
	r.wait(t, req.ID, "configured")
	d, _ := r.reg.Get(req.DeviceID)
	keyID := d.Onboarding.KeyID
	// Another station first, then the device, as STA-FIRST/STA-NEXT list
	// them; the list ends with an empty reply.
	r.c.SetReply("STA-FIRST", "02:00:00:00:09:00\nflags=[AUTH][ASSOC][AUTHORIZED]\nkeyid=d-other")
	r.c.SetReply("STA-NEXT", "02:00:00:00:01:00\nflags=[AUTH][ASSOC][AUTHORIZED]\naid=3\nkeyid="+keyID)
	if err := r.e.Attach(context.Background(), "wlan0", r.c); err != nil {
		t.Fatal(err)
	}
	r.wait(t, req.ID, "connected")
	if d, _ := r.reg.Get(req.DeviceID); d.State != registry.StateConnected || len(d.MACs) != 1 || d.MACs[0] != "02:00:00:00:01:00" {
		t.Fatalf("device %+v", d)
	}
	if n := r.c.Sent("STA-NEXT 02:00:00:00:09:00"); len(n) != 1 {
		t.Fatalf("stations not walked: %q", r.c.Sent("STA-"))
	}
}

// A reconnection to a hostapd that kept its state reuses its configurator.
func TestReattachSameHostapdKeepsConfigurator(t *testing.T) {
	r := newRig(t, time.Second)
	if err := r.e.Attach(context.Background(), "wlan0", r.c); err != nil {
		t.Fatal(err)
	}
	if adds := r.c.Sent("DPP_CONFIGURATOR_ADD"); len(adds) != 1 {
		t.Fatalf("configurator added %d times: %q", len(adds), adds)
	}
}

func TestNoDPP(t *testing.T) {
	r := newRig(t, time.Second)
	noDPP := dpptest.NewCtrl()
	noDPP.Failures["GET_CAPABILITY"] = hostapd.ErrUnknownCommand
	if err := r.e.Attach(context.Background(), "wlan0", noDPP); err != nil {
		t.Fatal(err)
	}
	_, err := r.onboard(device.OnboardRequest{Method: "qr", URI: testURI(t)})
	if !fault.Is(err, fault.Unavailable) || !strings.Contains(err.Error(), "install wpad-openssl or wpad-mbedtls") {
		t.Fatalf("want a clear no-DPP error with the fix, got %v", err)
	}
}

// A PSK is bound to one SSID: a PSK file shared with an access point of
// another SSID keeps passphrases.
func TestSharedPSKFileKeepsPassphrases(t *testing.T) {
	r := newRig(t, 5*time.Second)
	office := dpptest.NewCtrl()
	office.Replies["GET_CONFIG"] = "ssid=Office\nkey_mgmt=WPA-PSK"
	r.e.AddBSS("wlan1", office, credential.Open(r.psk.Path()))
	if err := r.e.Attach(context.Background(), "wlan1", office); err != nil {
		t.Fatal(err)
	}
	req, err := r.onboard(device.OnboardRequest{Method: "qr", URI: testURI(t), Name: "Camera", Ifname: "wlan0"})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, req.ID, "running")
	if pass, ok, _ := r.psk.Lookup(req.DeviceID); !ok || pass.IsPSK() {
		t.Fatalf("line is a PSK (%v) in a file two SSIDs share", ok)
	}
}

// A MUD URL belongs to the device whose exchange runs on the access point
// that reported it, whatever runs on the others at the same time.
func TestMUDURLGoesToItsAccessPointsDevice(t *testing.T) {
	r := newRigFor(t, 5*time.Second, "", "Home", "wlan1")
	on := func(iface, url string) {
		e, _ := hostapd.ParseEvent(iface, "<3>DPP-MUD-URL "+url)
		r.e.HandleEvent(e)
	}
	mudOf := func(id string) string {
		d, err := r.reg.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		return d.MUDURL
	}
	a, err := r.onboard(device.OnboardRequest{Method: "qr", URI: testURI(t), Name: "a", Ifname: "wlan0"})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, a.ID, "running")
	// wlan1 runs no exchange: its MUD URL is nobody's.
	on("wlan1", "https://mfg.example/stray.json")
	if u := mudOf(a.DeviceID); u != "" {
		t.Fatalf("the device onboarding on wlan0 got wlan1's MUD URL %s", u)
	}
	b, err := r.onboard(device.OnboardRequest{Method: "qr", URI: testURI(t), Name: "b", Ifname: "wlan1"})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, b.ID, "running")
	on("wlan1", "https://mfg.example/b.json")
	on("wlan0", "https://mfg.example/a.json")
	if ua, ub := mudOf(a.DeviceID), mudOf(b.DeviceID); ua != "https://mfg.example/a.json" || ub != "https://mfg.example/b.json" {
		t.Fatalf("MUD URLs: a %q, b %q", ua, ub)
	}
}

// An access point that offers no WPA-PSK (6 GHz: WPA3-SAE only, as
// OpenWrt's generator and hostapd make it) never checks PSK-file lines, so
// no device is given a passphrase of its own there: asked for by name the
// request is refused with the reason and the fix, nothing is written or
// sent; asked for without one, the next access point takes it.
func TestNoPSKAccessPoint(t *testing.T) {
	for _, c := range []struct {
		name, keyMgmt string
		freq          int
		noPSK         bool
		want          []string
	}{
		{name: "6 GHz, SAE", keyMgmt: "SAE SAE-EXT-KEY ", freq: 5975, noPSK: true, want: []string{"6 GHz access point allows only WPA3-SAE", "add devices on the 2.4 or 5 GHz access point"}},
		{name: "5 GHz, SAE only", keyMgmt: "SAE", freq: 5180, noPSK: true, want: []string{"offers no WPA2-PSK", "psk2 or sae-mixed"}},
		{name: "6 GHz, PSK offered", keyMgmt: "WPA-PSK SAE", freq: 5975},
		{name: "not said", keyMgmt: "", freq: 5975},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRigFor(t, 5*time.Second, "", "Home", "wlan1")
			r.c.SetReply("GET_CONFIG", "ssid=Home\nkey_mgmt="+c.keyMgmt)
			r.c.SetReply("STATUS", "freq="+strconv.Itoa(c.freq))
			if err := r.e.Attach(context.Background(), "wlan0", r.c); err != nil {
				t.Fatal(err)
			}
			radios := r.e.Radios()
			if radios[0].Ifname != "wlan0" || radios[0].NoPSK != c.noPSK || radios[0].Freq != c.freq {
				t.Fatalf("radio %+v, want NoPSK %v", radios[0], c.noPSK)
			}
			_, err := r.onboard(device.OnboardRequest{Method: "qr", URI: testURI(t), Ifname: "wlan0"})
			if !c.noPSK {
				if err != nil {
					t.Fatalf("refused on an access point offering WPA-PSK: %v", err)
				}
				return
			}
			if !fault.Is(err, fault.Unavailable) {
				t.Fatalf("want the request refused as unavailable, got %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q does not say %q", err, w)
				}
			}
			if sent := append(r.c.Sent("DPP_QR_CODE"), r.c.Sent("DPP_AUTH_INIT")...); len(sent) != 0 {
				t.Errorf("the device's exchange reached the access point without WPA-PSK: %q", sent)
			}
			if b, _ := os.ReadFile(filepath.Join(r.dir, "wlan0.psk")); len(b) != 0 {
				t.Errorf("a credential was written although the request was refused: %q", b)
			}
			// Without an access point named, the one that can take it does.
			req, err := r.onboard(device.OnboardRequest{Method: "qr", URI: testURI(t)})
			if err != nil {
				t.Fatal(err)
			}
			r.wait(t, req.ID, "running")
			for len(r.more["wlan1"].Sent("DPP_AUTH_INIT")) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			if n := len(r.c.Sent("DPP_AUTH_INIT")); n != 0 {
				t.Errorf("the exchange went to the access point without WPA-PSK")
			}
		})
	}
}

// reconnecting is an access point whose hostapd trustjoin is reconnecting
// to, as its monitor shows it: commands fail at once, and Wait holds until
// the test brings hostapd back (after Attach, as the monitor does) or
// gives up.
type reconnecting struct {
	*dpptest.Ctrl
	back chan error
	mu   sync.Mutex
	up   bool
}

func (r *reconnecting) Command(ctx context.Context, cmd string) (string, error) {
	r.mu.Lock()
	up := r.up
	r.mu.Unlock()
	if !up {
		return "", hostapd.ErrUnavailable
	}
	return r.Ctrl.Command(ctx, cmd)
}

func (r *reconnecting) Wait(ctx context.Context) error {
	r.mu.Lock()
	up := r.up
	r.mu.Unlock()
	if up {
		return nil
	}
	select {
	case err := <-r.back:
		r.mu.Lock()
		r.up = err == nil
		r.mu.Unlock()
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A request that arrives while trustjoin reconnects to hostapd (it missed
// a PING while busy) waits for it and goes ahead; if hostapd does not come
// back, or the request's context ends first, it is refused as not up.
func TestOnboardWaitsForReconnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		// back: hostapd is back (nil) or the wait fails with it; nil
		// channel: the request's context ends first.
		back     chan error
		backErr  error
		accepted bool
	}{
		{name: "back in time", back: make(chan error, 1), accepted: true},
		{name: "not back", back: make(chan error, 1), backErr: hostapd.ErrUnavailable},
		{name: "request gives up", back: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 5*time.Second)
			r.e.Detach("wlan0")
			rc := &reconnecting{Ctrl: r.c, back: tc.back}
			r.e.SetCtrl("wlan0", rc)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if tc.back == nil {
				ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
			}
			defer cancel()
			type result struct {
				req dpp.Request
				err error
			}
			done := make(chan result, 1)
			go func() {
				req, err := r.o.Onboard(ctx, device.OnboardRequest{Method: "qr", URI: testURI(t), Name: "Camera", By: device.Householder})
				done <- result{req, err}
			}()
			if tc.back != nil {
				select {
				case res := <-done:
					t.Fatalf("answered while hostapd was away: %+v %v", res.req, res.err)
				case <-time.After(200 * time.Millisecond):
				}
				if tc.backErr == nil {
					if err := r.e.Attach(context.Background(), "wlan0", r.c); err != nil {
						t.Fatal(err)
					}
				}
				tc.back <- tc.backErr
			}
			res := <-done
			if !tc.accepted {
				if !fault.Is(res.err, fault.Unavailable) || !strings.Contains(res.err.Error(), "wlan0 is not up") {
					t.Fatalf("want refused as not up, got %+v %v", res.req, res.err)
				}
				if n := r.reg.List(); len(n) != 0 {
					t.Fatalf("a refused request left devices: %+v", n)
				}
				return
			}
			if res.err != nil {
				t.Fatalf("refused: %v", res.err)
			}
			// The exchange goes ahead.
			r.wait(t, res.req.ID, "running")
			for len(r.c.Sent("DPP_AUTH_INIT")) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// A request queued behind another exchange, whose hostapd is lost before
// its turn, waits for it to come back rather than failing on its first
// command.
func TestQueuedWaitsForReconnection(t *testing.T) {
	r := newRig(t, time.Minute)
	first, err := r.onboard(device.OnboardRequest{Method: "qr", URI: testURI(t), Name: "First"})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, first.ID, "running")
	second, err := r.onboard(device.OnboardRequest{Method: "qr", URI: testURI(t), Name: "Second"})
	if err != nil {
		t.Fatal(err)
	}
	for len(r.c.Sent("DPP_AUTH_INIT")) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	r.e.Detach("wlan0")
	rc := &reconnecting{Ctrl: r.c, back: make(chan error, 1)}
	r.e.SetCtrl("wlan0", rc)
	if err := r.e.Cancel(first.ID); err != nil {
		t.Fatal(err)
	}
	r.wait(t, second.ID, "running")
	if err := r.e.Attach(context.Background(), "wlan0", r.c); err != nil {
		t.Fatal(err)
	}
	rc.back <- nil
	for until := time.Now().Add(5 * time.Second); len(r.c.Sent("DPP_AUTH_INIT")) < 2; time.Sleep(5 * time.Millisecond) {
		if p, _ := r.e.Progress(second.ID); p.State == "failed" || time.Now().After(until) {
			t.Fatalf("the second exchange did not start: %+v", p)
		}
	}
}

// A passphrase of a device's own, asked for while trustjoin reconnects to
// hostapd, waits for it the same way.
func TestIssuePassphraseWaitsForReconnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		back error
	}{
		{name: "back in time"},
		{name: "not back", back: hostapd.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, time.Second)
			r.e.Detach("wlan0")
			rc := &reconnecting{Ctrl: r.c, back: make(chan error, 1)}
			r.e.SetCtrl("wlan0", rc)
			type result struct {
				iss dpp.Issued
				err error
			}
			done := make(chan result, 1)
			go func() {
				iss, err := r.e.IssuePassphrase(context.Background(), "d-printer", 20)
				done <- result{iss, err}
			}()
			select {
			case res := <-done:
				t.Fatalf("answered while hostapd was away: %v", res.err)
			case <-time.After(200 * time.Millisecond):
			}
			if tc.back == nil {
				if err := r.e.Attach(context.Background(), "wlan0", r.c); err != nil {
					t.Fatal(err)
				}
			}
			rc.back <- tc.back
			res := <-done
			switch {
			case tc.back == nil && (res.err != nil || res.iss.Ifname != "wlan0"):
				t.Fatalf("not issued after hostapd came back: %+v %v", res.iss.Ifname, res.err)
			case tc.back != nil && !fault.Is(res.err, fault.Unavailable):
				t.Fatalf("want refused as unavailable, got %v", res.err)
			}
		})
	}
}
