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

func startRealHostapd(t *testing.T) *realHostapd {
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
	conf := fmt.Sprintf("interface=dummy0\ndriver=none\nctrl_interface=%s\nssid=trustjoin-test\n", filepath.Join(h.dir, "ctrl"))
	if err := os.WriteFile(h.conf, []byte(conf), 0o600); err != nil {
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
