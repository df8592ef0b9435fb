package device

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/dpp"
	"github.com/trustjoin/trustjoin/src/internal/dpp/dpptest"
	"github.com/trustjoin/trustjoin/src/internal/firewall"
	"github.com/trustjoin/trustjoin/src/internal/mud"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// segments are the rig's: iot (the default), guest, quarantine.
var segments = []config.Segment{{Name: "iot", VLAN: 20}, {Name: "guest", VLAN: 30}, {Name: "quarantine", VLAN: 99, Quarantine: true}}

// rig is an Owner with the onboarding engine on a fake hostapd (wlan0)
// and a fake firewall; the real exchanges run in the lab.
type rig struct {
	o    *Owner
	e    *dpp.Engine
	c    *dpptest.Ctrl
	reg  *registry.Registry
	psk  *credential.PSKFile
	fw   *fakeFirewall
	logs *bytes.Buffer
	dir  string
}

// newRig starts a rig; opts, if given, adjust the Owner's options.
func newRig(t *testing.T, timeout time.Duration, opts ...func(*Options)) *rig {
	t.Helper()
	dir := t.TempDir()
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg, err := registry.Open(filepath.Join(dir, "devices.json"), log)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{c: dpptest.NewCtrl(), reg: reg, psk: credential.Open(filepath.Join(dir, "wlan0.psk")), fw: newFirewall(), logs: logs, dir: dir}
	r.e = dpp.New(dpp.Options{Log: log, StateDir: dir, Timeout: timeout, PKEXAttempts: 2, PKEXWindow: time.Minute})
	o := Options{
		Log: log, Registry: reg, Radio: r.e, Segments: segments, DefaultSegment: "iot", Firewall: r.fw,
		AccessPoints: []credential.AccessPoint{{Ifname: "wlan0", File: r.psk, Ctrl: r.c}},
	}
	for _, f := range opts {
		f(&o)
	}
	r.o = New(o)
	r.e.SetDevices(r.o)
	r.e.AddBSS("wlan0", r.c, r.psk)
	if err := r.e.Attach(context.Background(), "wlan0", r.c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { r.e.Run(ctx); done <- struct{}{} }()
	go func() { r.o.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	select {
	case <-r.o.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("owner not ready")
	}
	return r
}

func (r *rig) ev(name string, args ...string) { r.e.HandleEvent(dpptest.Event("wlan0", name, args...)) }

// wait waits until the onboarding request is in one of states.
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

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lines returns the PSK file's lines by key id, with their VLAN and
// secret.
func (r *rig) lines(t *testing.T) map[string]credential.Passphrase {
	t.Helper()
	p, err := r.psk.Passphrases()
	if err != nil {
		t.Fatal(err)
	}
	return p
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

// fakeFirewall records what the Owner asks of the firewall.
type fakeFirewall struct {
	mu      sync.Mutex
	applied map[string]firewall.Device
	calls   []string
	failing error
	// reads counts the counter reads.
	reads int
}

func newFirewall() *fakeFirewall { return &fakeFirewall{applied: map[string]firewall.Device{}} }

func (f *fakeFirewall) Apply(_ context.Context, d firewall.Device) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing != nil {
		return f.failing
	}
	f.applied[d.ID] = d
	f.calls = append(f.calls, "apply "+d.ID)
	return nil
}

func (f *fakeFirewall) Remove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.applied, id)
	f.calls = append(f.calls, "remove "+id)
	return nil
}

func (f *fakeFirewall) AllCounters() (map[string]firewall.Counters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	out := map[string]firewall.Counters{}
	for id := range f.applied {
		out[id] = firewall.Counters{AcceptedPackets: 7, AcceptedBytes: 700, DroppedPackets: 3, DroppedBytes: 180}
	}
	return out, nil
}

func (f *fakeFirewall) get(id string) (firewall.Device, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.applied[id]
	return d, ok
}

func (f *fakeFirewall) fail(err error) {
	f.mu.Lock()
	f.failing = err
	f.mu.Unlock()
}

// newOfflineMUD decides MUD policies without ever getting a file.
func newOfflineMUD() *mudpolicy.Manager { return mudpolicy.New(mudpolicy.Options{Source: nowhere{}}) }

type nowhere struct{}

func (nowhere) Get(context.Context, string) (*mud.Result, error) {
	return nil, errors.New("no network here")
}
func (nowhere) Cached(string) (*mud.Result, bool) { return nil, false }
func (nowhere) Signature(context.Context, string) ([]byte, error) {
	return nil, errors.New("no network here")
}
func (nowhere) CachedSignature(string) ([]byte, bool) { return nil, false }
