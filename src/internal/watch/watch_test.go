package watch

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/alert"
	"github.com/trustjoin/trustjoin/src/internal/authorize"
	"github.com/trustjoin/trustjoin/src/internal/behaviour"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/inventory"
	"github.com/trustjoin/trustjoin/src/internal/mudlearn"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// owner is a stand-in for the device owner: it records what it is asked.
type owner struct {
	mu    sync.Mutex
	devs  []registry.Device
	asked []string
	done  chan string
}

func (o *owner) Devices() []registry.Device {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]registry.Device(nil), o.devs...)
}

func (o *owner) note(s string) error {
	o.mu.Lock()
	o.asked = append(o.asked, s)
	o.mu.Unlock()
	o.done <- s
	return nil
}

func (o *owner) Quarantine(_ context.Context, id, why string) error {
	return o.note("quarantine " + id + ": " + why)
}
func (o *owner) Move(_ context.Context, id, seg, why string) error {
	return o.note("move " + id + " to " + seg + ": " + why)
}
func (o *owner) Expire(_ context.Context, id, why string) error {
	return o.note("expire " + id + ": " + why)
}
func (o *owner) Remove(_ context.Context, id, why string) error {
	return o.note("remove " + id + ": " + why)
}

const cfgText = `config segment 'iot'
	option vlan '20'
	option internet '1'
	option watch 'quarantine'
	option watch_threshold '3'
	option watch_window '60'
	option learn '3600'
config segment 'guest'
	option vlan '30'
	option internet '1'
	option lifetime '86400'
config segment 'quarantine'
	option vlan '99'
	option quarantine '1'
config onboarding
	option default_segment 'iot'
config watch
	option unknown '0'
`

type rig struct {
	w     *Watch
	o     *owner
	book  *alert.Book
	now   time.Time
	learn *mudlearn.Learner
}

func newRig(t *testing.T, hook *authorize.Hook, extra string) *rig {
	t.Helper()
	cfg, err := config.Parse("test", strings.NewReader(cfgText+extra))
	if err != nil {
		t.Fatal(err)
	}
	g := &rig{o: &owner{done: make(chan string, 10)}, now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	g.o.devs = []registry.Device{
		{ID: "d-cam", Name: "camera", MACs: []string{"02:00:00:00:00:01"}, Segment: "iot", KeyID: "d-cam", State: registry.StateConnected, CredentialCreated: g.now},
		{ID: "d-tv", Name: "tv", MACs: []string{"02:00:00:00:00:02"}, Segment: "guest", KeyID: "d-tv", State: registry.StateConnected, CredentialCreated: g.now},
	}
	g.book = alert.New(alert.Options{Now: func() time.Time { return g.now }})
	g.learn, err = mudlearn.Open(mudlearn.Options{Dir: t.TempDir(), Now: func() time.Time { return g.now }})
	if err != nil {
		t.Fatal(err)
	}
	g.w = New(Options{Config: cfg, Owner: g.o, Book: g.book, Learner: g.learn, Hook: hook, Now: func() time.Time { return g.now }})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go g.w.runActs(ctx)
	return g
}

func (g *rig) wait(t *testing.T) string {
	t.Helper()
	select {
	case s := <-g.o.done:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("the owner was never asked")
		return ""
	}
}

func (g *rig) events() []string {
	var out []string
	for _, e := range g.book.Since(0) {
		out = append(out, string(e.Kind)+": "+e.Message)
	}
	return out
}

func drop(g *rig, mac string, dst string) {
	g.w.Recorder().Record(mustID(g, mac), netip.MustParseAddr("10.0.20.5"),
		behaviour.Flow{Verdict: behaviour.Dropped, Proto: 6, Addr: netip.MustParseAddr(dst), Port: 23}, g.now)
}

func mustID(g *rig, mac string) string {
	for _, d := range g.o.Devices() {
		if d.MACs[0] == mac {
			return d.ID
		}
	}
	return ""
}

func TestAutoQuarantineWithReason(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil, "")
	for _, dst := range []string{"10.0.20.100", "10.0.20.101", "10.0.20.102"} {
		drop(g, "02:00:00:00:00:01", dst)
	}
	got := g.wait(t)
	if !strings.HasPrefix(got, "quarantine d-cam: automatically: tried 3 forbidden destinations within 1m0s: 10.0.20.100:23/tcp, 10.0.20.101:23/tcp, 10.0.20.102:23/tcp") {
		t.Fatalf("owner asked %q", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(g.events()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ev := g.events()
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "auto-quarantine: camera was quarantined automatically: it tried 3 forbidden destinations") || !strings.HasSuffix(ev[0], `release it: trustjoin release "camera"`) {
		t.Fatalf("events = %q", ev)
	}
}

func TestNotifyOnly(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil, "")
	// guest: notify with the defaults (10 within 10 minutes).
	for i := 0; i < 10; i++ {
		g.w.Recorder().Record("d-tv", netip.MustParseAddr("10.0.30.5"), behaviour.Flow{Verdict: behaviour.Dropped, Proto: 6, Addr: netip.AddrFrom4([4]byte{10, 0, 30, byte(100 + i)}), Port: 22}, g.now)
	}
	ev := g.events()
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "forbidden-traffic: tv keeps trying what it may not: tried 10 forbidden destinations within 10m0s") {
		t.Fatalf("events = %q", ev)
	}
	select {
	case s := <-g.o.done:
		t.Fatalf("owner asked %q under notify", s)
	default:
	}
}

func TestReleaseForgetsWhatCameBefore(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil, "")
	drop(g, "02:00:00:00:00:01", "10.0.20.100")
	drop(g, "02:00:00:00:00:01", "10.0.20.101")
	cam := g.o.Devices()[0]
	q := cam
	q.Quarantined, q.Segment = true, "quarantine"
	g.w.Changed(cam, q)
	g.w.Changed(q, cam)
	if h := g.w.Recorder().History("d-cam"); h.Dropped != 0 {
		t.Fatalf("history after release: %+v", h)
	}
	drop(g, "02:00:00:00:00:01", "10.0.20.102")
	select {
	case s := <-g.o.done:
		t.Fatalf("owner asked %q: drops from before the release counted", s)
	default:
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil, "")
	tv := g.o.Devices()[1]
	if got := g.w.Expires(tv); !got.Equal(g.now.Add(24 * time.Hour)) {
		t.Fatalf("Expires = %v", got)
	}
	if got := g.w.Expires(g.o.Devices()[0]); !got.IsZero() {
		t.Fatalf("iot has no lifetime, Expires = %v", got)
	}
	// Quarantine does not lengthen a credential's life.
	q := tv
	q.Segment, q.Quarantined, q.QuarantinedFrom = "quarantine", true, tv.Segment
	if got := g.w.Expires(q); !got.Equal(g.now.Add(24 * time.Hour)) {
		t.Fatalf("quarantined from %s: Expires = %v", tv.Segment, got)
	}
	g.now = g.now.Add(23 * time.Hour)
	g.w.exp.Check()
	g.now = g.now.Add(time.Hour)
	g.w.exp.Check()
	if got := g.wait(t); got != "expire d-tv: its lifetime of 1d is over" {
		t.Fatalf("owner asked %q", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(g.events()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ev := g.events()
	if len(ev) != 2 || !strings.HasPrefix(ev[0], "credential-expiring: tv's credential expires at 2026-12-02T10:00:00Z") ||
		!strings.HasPrefix(ev[1], "credential-expired: tv's credential expired (its lifetime of 1d is over)") {
		t.Fatalf("events = %q", ev)
	}
}

func hookScript(t *testing.T, body string) *authorize.Hook {
	p := filepath.Join(t.TempDir(), "authorize")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return &authorize.Hook{Path: p, Owner: os.Getuid()}
}

func TestHook(t *testing.T) {
	t.Parallel()
	g := newRig(t, hookScript(t, `read -r in
case "$in" in
*'"id":"d-tv"'*) echo '{"decision":"deny","reason":"attestation revoked"}';;
*) echo '{"decision":"allow"}';;
esac`), "")
	dec := g.w.Authorize(context.Background(), authorize.Device{ID: "d-tv", Name: "tv", Segment: "guest"})
	if dec.Verdict != authorize.Deny {
		t.Fatalf("Authorize = %+v", dec)
	}
	g.w.chk.Round(context.Background())
	if got := g.wait(t); got != "remove d-tv: the authorisation hook denied it: attestation revoked" {
		t.Fatalf("owner asked %q", got)
	}
	ev := g.events()
	if len(ev) != 2 || ev[0] != "hook-denied: the authorisation hook refused tv a credential: attestation revoked" ||
		ev[1] != "hook-denied: the authorisation hook denied tv on its periodic check: attestation revoked; its credential was withdrawn" {
		t.Fatalf("events = %q", ev)
	}

	// A broken hook: one event for two failing rounds.
	b := newRig(t, hookScript(t, "exit 2"), "")
	b.w.chk.Round(context.Background())
	b.w.chk.Round(context.Background())
	if ev := b.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "hook-failed: the authorisation hook failed on its periodic check") {
		t.Fatalf("events = %q", ev)
	}
	if dec := b.w.Authorize(context.Background(), authorize.Device{Name: "plug", Segment: "iot"}); dec.Verdict != authorize.Deny || dec.Failed == nil {
		t.Fatalf("a broken hook at onboarding: %+v, want refused (fail closed)", dec)
	}
}

func TestLearningStartsAtOnboarding(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil, "")
	cam := g.o.Devices()[0]
	before := cam
	before.KeyID = ""
	g.w.Changed(before, cam)
	if !g.w.Learning("d-cam") {
		t.Fatal("a device without a MUD file onboarded into a learning segment is not learned")
	}
	g.w.Recorder().Record("d-cam", netip.MustParseAddr("10.0.20.5"), behaviour.Flow{Verdict: behaviour.Opened, Proto: 6, Addr: netip.MustParseAddr("192.0.2.1"), Port: 443, Name: "cloud.example"}, g.now)
	if p, _ := g.learn.Profile("d-cam"); len(p.Destinations) != 1 {
		t.Fatalf("profile = %+v", p)
	}
	withMUD := g.o.Devices()[0]
	withMUD.ID, withMUD.MUDURL = "d-cam2", "https://mfg.example/cam.json"
	b := withMUD
	b.KeyID = ""
	g.w.Changed(b, withMUD)
	if g.w.Learning("d-cam2") {
		t.Fatal("a device with a MUD URL is learned")
	}
	tv := g.o.Devices()[1]
	b = tv
	b.KeyID = ""
	g.w.Changed(b, tv)
	if g.w.Learning("d-tv") {
		t.Fatal("a device in a segment without learning is learned")
	}
}

func TestUnknownIsNews(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil, "")
	g.w.unknown(inventory.Unknown{MAC: "02:00:00:00:00:99", Kind: inventory.SharedPassword, Iface: "wlan0"})
	if ev := g.events(); len(ev) != 1 || ev[0] != "unknown-device: 02:00:00:00:00:99 is on Wi-Fi (wlan0) with the shared password" {
		t.Fatalf("events = %q", ev)
	}
	if ks := g.w.known(); len(ks) != 2 {
		t.Fatalf("known = %+v", ks)
	}
}

func TestMUDNews(t *testing.T) {
	t.Parallel()
	cam := registry.Device{ID: "d-cam", Name: "camera", MUDURL: "https://mud.example.com/cam.json", State: registry.StateConnected}
	at := func(digest, status string) registry.Device {
		d := cam
		d.MUDDigest, d.MUDStatus, d.MUDDetail = digest, status, "signature does not verify"
		return d
	}
	for _, tc := range []struct {
		name          string
		before, after registry.Device
		want          []string
	}{
		{"first file, enforced", cam, at("a", "enforced"), nil},
		{"first file, signature failed", cam, at("a", "pending-approval"),
			[]string{"mud-signature-failed: camera's MUD file (https://mud.example.com/cam.json) is not enforced (pending-approval): signature does not verify"}},
		{"same file again", at("a", "enforced"), at("a", "enforced"), nil},
		{"changed, enforced", at("a", "enforced"), at("b", "enforced"),
			[]string{"mud-changed: camera's MUD file (https://mud.example.com/cam.json) changed; it is enforced"}},
		{"changed, refused", at("a", "enforced"), at("b", "rejected"), []string{
			"mud-changed: camera's MUD file (https://mud.example.com/cam.json) changed; it is rejected",
			"mud-signature-failed: camera's MUD file (https://mud.example.com/cam.json) is not enforced (rejected): signature does not verify"}},
		{"still waiting", at("a", "pending-approval"), at("a", "pending-approval"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, nil, "")
			g.w.Changed(tc.before, tc.after)
			if ev := g.events(); !slices.Equal(ev, tc.want) {
				t.Fatalf("events = %q, want %q", ev, tc.want)
			}
		})
	}
}
