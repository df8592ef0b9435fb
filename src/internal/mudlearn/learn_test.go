package mudlearn

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/behaviour"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func open(t *testing.T, dir string, now *time.Time) *Learner {
	t.Helper()
	l, err := Open(Options{Dir: dir, Max: 5, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func flow(v behaviour.Verdict, name, addr string, proto uint8, port uint16) behaviour.Flow {
	return behaviour.Flow{Verdict: v, Name: name, Addr: netip.MustParseAddr(addr), Proto: proto, Port: port}
}

func TestLearnThenPropose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := t0
	l := open(t, dir, &now)
	l.Start("d-cam", "camera", 72*time.Hour)
	if !l.Learning("d-cam") || l.Learning("d-other") {
		t.Fatal("Learning wrong at the start")
	}
	seen := []behaviour.Flow{
		flow(behaviour.Opened, "cloud.mfg.example", "192.0.2.10", 6, 443),
		flow(behaviour.Opened, "cloud.mfg.example", "192.0.2.11", 6, 443), // another address, same name
		flow(behaviour.Opened, "", "198.51.100.7", 17, 3478),
		flow(behaviour.Opened, "", "10.0.20.1", 1, 8),
		flow(behaviour.Inbound, "phone.lan", "10.0.10.7", 6, 8443), // inbound: by address, never by name
		flow(behaviour.Dropped, "", "10.0.20.9", 6, 23),            // not learned
	}
	for i, f := range seen {
		l.Observe("d-cam", f, t0.Add(time.Duration(i)*time.Minute))
	}
	p, ok := l.Profile("d-cam")
	if !ok {
		t.Fatal("no profile")
	}
	want := []string{
		"connects to cloud.mfg.example on TCP port 443 (2 times)",
		"connects to 198.51.100.7 on UDP port 3478 (once)",
		"connects to the local network (10.0.20.1) on ICMP type 8 (once)",
		"accepts connections from the local network (10.0.10.7) on its TCP port 8443 (once)",
	}
	if diff := cmp.Diff(want, p.Describe()); diff != "" {
		t.Fatalf("profile (-want +got):\n%s", diff)
	}

	b, err := Propose(p, t0.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := mud.Parse(b, 0)
	if err != nil {
		t.Fatalf("the proposal is not a MUD file trustjoin takes: %v\n%s", err, b)
	}
	if len(pol.Warnings) != 0 {
		t.Fatalf("the proposal has warnings: %q\n%s", pol.Warnings, b)
	}
	if pol.URL != "https://learned.trustjoin.invalid/d-cam.json" || pol.NamesNoACL {
		t.Fatalf("policy URL %q, names no ACL %v", pol.URL, pol.NamesNoACL)
	}
	var got []string
	for _, e := range pol.Entries {
		if e.Ignored != "" {
			t.Errorf("entry %s ignored: %s", e.ACE, e.Ignored)
		}
		for _, r := range e.Rules {
			got = append(got, string(e.Policy)+": "+r.Describe(e.Policy))
		}
	}
	wantRules := []string{
		"from-device: IPv4 TCP to cloud.mfg.example port 443; only the device opens connections",
		"from-device: IPv4 UDP to 198.51.100.7/32 port 3478",
		"from-device: IPv4 ICMP type 8 (echo request) to the local networks",
		"from-device: IPv6 TCP to cloud.mfg.example port 443; only the device opens connections",
		"to-device: IPv4 TCP from the local networks to the device's port 8443; only the other side opens connections",
	}
	if diff := cmp.Diff(wantRules, got); diff != "" {
		t.Fatalf("the proposal's rules (-want +got):\n%s\n%s", diff, b)
	}

	// The learning period ends: nothing more is learned.
	now = t0.Add(73 * time.Hour)
	l.Observe("d-cam", flow(behaviour.Opened, "late.example", "192.0.2.99", 6, 443), now)
	if l.Learning("d-cam") {
		t.Fatal("still learning after the period")
	}
	if p, _ := l.Profile("d-cam"); len(p.Destinations) != 4 {
		t.Fatalf("learned after the period: %+v", p.Destinations)
	}
}

func TestProfilesSurviveARestartAndFlashIsSpared(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := t0
	l := open(t, dir, &now)
	l.Start("d-cam", "camera", time.Hour)
	l.Observe("d-cam", flow(behaviour.Opened, "cloud.mfg.example", "192.0.2.10", 6, 443), now)
	if err := l.Save(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "d-cam.json")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A known destination again only counts (in RAM): no write, or the
	// file would hold the new count.
	l.Observe("d-cam", flow(behaviour.Opened, "cloud.mfg.example", "192.0.2.10", 6, 443), now)
	if err := l.Save(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("file rewritten though nothing new was learned")
	}
	l2 := open(t, dir, &now)
	p, ok := l2.Profile("d-cam")
	if !ok || len(p.Destinations) != 1 || p.Name != "camera" || !l2.Learning("d-cam") {
		t.Fatalf("after a restart: %+v, %v", p, ok)
	}
	// Start again keeps what was learned.
	l2.Start("d-cam", "camera", time.Hour)
	if p, _ := l2.Profile("d-cam"); len(p.Destinations) != 1 {
		t.Fatal("Start again dropped what was learned")
	}
	if err := l2.Forget("d-cam"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Forget left the file: %v", err)
	}
}

func TestProfileIsBounded(t *testing.T) {
	t.Parallel()
	now := t0
	l := open(t, t.TempDir(), &now)
	l.Start("d-scanner", "", time.Hour)
	for i := 0; i < 20; i++ {
		l.Observe("d-scanner", flow(behaviour.Opened, "", "192.0.2.1", 6, uint16(1000+i)), now)
	}
	p, _ := l.Profile("d-scanner")
	if len(p.Destinations) != 5 || !p.Full {
		t.Fatalf("profile holds %d destinations, full %v; want 5 and full", len(p.Destinations), p.Full)
	}
	if d := p.Describe(); !strings.HasPrefix(d[len(d)-1], "and more, left out") {
		t.Fatalf("Describe does not say destinations were left out: %q", d)
	}
}

func TestUnreadableProfileIsSkipped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "d-bad.json"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(dir, "d-x.json"), []byte(`{"device":"d-y"}`), 0o600)
	now := t0
	l := open(t, dir, &now)
	if _, ok := l.Profile("d-bad"); ok {
		t.Fatal("a corrupt profile was loaded")
	}
	if _, ok := l.Profile("d-y"); ok {
		t.Fatal("a profile under another device's file name was loaded")
	}
}

func TestURLIsSafe(t *testing.T) {
	t.Parallel()
	if u := URL("d-../x y"); u != "https://learned.trustjoin.invalid/d-___x_y.json" || slices.Contains([]byte(u[8:]), ' ') {
		t.Fatalf("URL = %q", u)
	}
}
