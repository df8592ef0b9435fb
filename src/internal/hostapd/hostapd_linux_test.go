package hostapd_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/dpp"
	"github.com/trustjoin/trustjoin/src/internal/dpp/dpptest"
	"github.com/trustjoin/trustjoin/src/internal/hostapd"
)

// realHostapd runs Debian's hostapd with driver=none on a dummy interface in
// a network namespace of its own (a veth end, as this kernel has no dummy
// driver): no radio, but the real control interface.
type realHostapd struct {
	t       *testing.T
	ns, dir string
	conf    string
	cmd     *exec.Cmd
}

// startRealHostapd starts it with conf's lines added to its configuration.
func startRealHostapd(t *testing.T, conf ...string) *realHostapd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (network namespaces); CI runs as root")
	}
	bin, err := exec.LookPath("hostapd")
	if err != nil {
		t.Fatal("hostapd is not installed (apt-get install hostapd)")
	}
	b := make([]byte, 3)
	rand.Read(b)
	h := &realHostapd{t: t, ns: "tjhapd-" + hex.EncodeToString(b), dir: t.TempDir()}
	run := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "netns", "add", h.ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", h.ns).Run() })
	run("ip", "-n", h.ns, "link", "add", "dummy0", "type", "veth", "peer", "name", "dummy1")
	run("ip", "-n", h.ns, "link", "set", "dummy0", "up")
	h.conf = filepath.Join(h.dir, "hostapd.conf")
	text := fmt.Sprintf("interface=dummy0\ndriver=none\nctrl_interface=%s\nssid=trustjoin-test\n", filepath.Join(h.dir, "ctrl"))
	for _, l := range conf {
		text += l + "\n"
	}
	if err := os.WriteFile(h.conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	h.start(bin)
	t.Cleanup(func() { h.stop() })
	return h
}

func (h *realHostapd) start(bin string) {
	h.cmd = exec.Command("ip", "netns", "exec", h.ns, bin, h.conf)
	h.cmd.Stdout, h.cmd.Stderr = os.Stderr, os.Stderr
	if err := h.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	sock := filepath.Join(h.dir, "ctrl", "dummy0")
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatal("hostapd did not create its control socket")
}

func (h *realHostapd) stop() {
	if h.cmd != nil && h.cmd.Process != nil {
		h.cmd.Process.Kill()
		h.cmd.Wait()
	}
}

func TestRealHostapd(t *testing.T) {
	h := startRealHostapd(t)
	ctrl := filepath.Join(h.dir, "ctrl")
	connects := make(chan *hostapd.Client, 4)
	var logged lockedBuffer
	m := &hostapd.Monitor{
		Iface: "dummy0", CtrlDir: ctrl, LocalDir: t.TempDir(),
		Log: slog.New(slog.NewTextHandler(&logged, nil)),
		OnConnect: func(ctx context.Context, c *hostapd.Client) error {
			connects <- c
			return nil
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var c *hostapd.Client
	select {
	case c = <-connects:
	case <-time.After(5 * time.Second):
		t.Fatal("monitor did not connect to hostapd")
	}
	bg := context.Background()
	if err := c.Ping(bg); err != nil {
		t.Fatal(err)
	}
	s, err := c.Capabilities(bg)
	if err != nil || !s.Supported || s.Version < 2 {
		t.Fatalf("Debian's hostapd 2.10 has DPP version 2: got %+v %v", s, err)
	}
	st, err := c.Command(bg, "GET_CONFIG")
	if err != nil || hostapd.ParseKV(st)["ssid"] != "trustjoin-test" {
		t.Fatalf("GET_CONFIG: %q %v", st, err)
	}

	// The configurator key round trip the daemon relies on to keep devices
	// valid across hostapd restarts.
	id, err := c.Command(bg, "DPP_CONFIGURATOR_ADD")
	if err != nil {
		t.Fatal(err)
	}
	key, err := c.Command(bg, "DPP_CONFIGURATOR_GET_KEY "+id)
	if err != nil || len(key) < 32 {
		t.Fatalf("GET_KEY: %v (len %d)", err, len(key))
	}
	h.stop()
	h.start("hostapd")
	var c2 *hostapd.Client
	select {
	case c2 = <-connects:
	case <-time.After(5 * time.Second):
		t.Fatal("monitor did not reconnect after hostapd restarted")
	}
	id2, err := c2.Command(bg, "DPP_CONFIGURATOR_ADD key="+key)
	if err != nil {
		t.Fatalf("restoring the configurator: %v", err)
	}
	key2, err := c2.Command(bg, "DPP_CONFIGURATOR_GET_KEY "+id2)
	if err != nil || key2 != key {
		t.Fatalf("restored configurator has another key (%v)", err)
	}
	if _, err := strconv.Atoi(id2); err != nil {
		t.Fatalf("configurator id %q", id2)
	}
	if _, err := c2.Command(bg, "DPP_QR_CODE DPP:nonsense;;"); err == nil {
		t.Fatal("hostapd accepted a malformed DPP URI")
	}

	// Every loss after a connection is logged, not only the first (the
	// lab's hostapd lost trustjoin's listener again and the log was silent).
	h.stop()
	h.start("hostapd")
	select {
	case <-connects:
	case <-time.After(5 * time.Second):
		t.Fatal("monitor did not reconnect after hostapd restarted a second time")
	}
	if n := strings.Count(logged.String(), "hostapd connection lost"); n != 2 {
		t.Fatalf("two losses logged %d times:\n%s", n, logged.String())
	}
}

// An onboarding request that comes while trustjoin reconnects to Debian's
// hostapd waits for it and goes ahead: hostapd is stopped, the request
// comes, hostapd starts again (make bench on OpenWrt's hostapd saw such a
// request refused as not up). And a hostapd that is gone is noticed by its
// socket, not by the PING timeout a busy one is given.
func TestRealHostapdOnboardingWaitsForReconnection(t *testing.T) {
	dir := t.TempDir()
	pskPath := filepath.Join(dir, "dummy0.psk")
	if err := os.WriteFile(pskPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h := startRealHostapd(t, "wpa=2", "wpa_key_mgmt=WPA-PSK", "rsn_pairwise=CCMP",
		"wpa_passphrase=household-secret", "wpa_psk_file="+pskPath)
	var logged lockedBuffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	e := dpp.New(dpp.Options{Log: log, StateDir: dir, Timeout: 3 * time.Second})
	devs := &failures{}
	e.SetDevices(devs)
	e.AddBSS("dummy0", nil, credential.Open(pskPath))
	lost := make(chan struct{}, 4)
	m := &hostapd.Monitor{
		Iface: "dummy0", CtrlDir: filepath.Join(h.dir, "ctrl"), LocalDir: t.TempDir(), Log: log,
		// Generous: this test is about the wait, not its bound, and a
		// loaded machine may take seconds to start hostapd.
		ReconnectWait: time.Minute,
		OnEvent:       e.HandleEvent,
		OnConnect: func(ctx context.Context, c *hostapd.Client) error {
			return e.Attach(ctx, "dummy0", c)
		},
		OnDisconnect: func() { e.Detach("dummy0"); lost <- struct{}{} },
	}
	e.SetCtrl("dummy0", m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { m.Run(ctx); done <- struct{}{} }()
	go func() { e.Run(ctx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()
	select {
	case <-m.Ready():
	case <-time.After(10 * time.Second):
		t.Fatalf("monitor did not connect to hostapd:\n%s", logged.String())
	}

	h.stop()
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the monitor did not notice hostapd gone")
	}
	// The loss is logged after OnDisconnect.
	for until := time.Now().Add(10 * time.Second); !strings.Contains(logged.String(), "connection lost") && time.Now().Before(until); {
		time.Sleep(20 * time.Millisecond)
	}
	if l := logged.String(); !strings.Contains(l, "connection refused") || strings.Contains(l, "does not answer PING") {
		t.Fatalf("hostapd gone not noticed by its socket:\n%s", l)
	}

	u, err := dpp.ParseURI(dpptest.URI(t))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		req dpp.Request
		err error
	}
	answered := make(chan result, 1)
	go func() {
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer rcancel()
		req, err := e.Onboard(rctx, dpp.OnboardRequest{Method: "qr", URI: u, DeviceID: "d-cam", KeyID: "d-cam"})
		answered <- result{req, err}
	}()
	select {
	case res := <-answered:
		t.Fatalf("answered while hostapd was stopped: %+v %v", res.req, res.err)
	case <-time.After(500 * time.Millisecond):
	}
	h.start("hostapd")
	var res result
	select {
	case res = <-answered:
	case <-time.After(2 * time.Minute):
		t.Fatal("the request still waits after hostapd came back")
	}
	if res.err != nil {
		t.Fatalf("refused after hostapd came back: %v\n%s", res.err, logged.String())
	}
	// The exchange runs on the real hostapd. With no radio (driver=none)
	// no device answers, so it ends there, not for want of hostapd.
	for until := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		p, err := e.Progress(res.req.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.State == "failed" {
			if strings.Contains(p.Error, "not up") || strings.Contains(p.Error, "not reachable") || strings.Contains(p.Error, "not ready") {
				t.Fatalf("the exchange found hostapd away: %+v", p)
			}
			t.Logf("the exchange ended as expected without a radio: %s", p.Error)
			break
		}
		if time.Now().After(until) {
			t.Fatalf("the exchange did not end: %+v", p)
		}
	}
}

// failures is the device owner, told only the outcome.
type failures struct{ lockedBuffer }

func (*failures) Configured(string)                {}
func (*failures) Connected(string, string, string) {}
func (*failures) Disconnected(string, string)      {}
func (*failures) MUDURL(string, string)            {}
func (f *failures) Failed(id, keyID string, configured bool, why string) {
	fmt.Fprintf(&f.lockedBuffer, "%s %s\n", id, why)
}
func (*failures) Chirps() ([]dpp.Chirp, error) { return nil, nil }

// lockedBuffer is a log destination the monitor's goroutine and the test
// share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
