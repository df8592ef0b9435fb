package device

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/firewall"
	"github.com/trustjoin/trustjoin/src/internal/mud"
	"github.com/trustjoin/trustjoin/src/internal/mud/mudtest"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// mudFile is a valid MUD file at url, with an optional signature URL and
// a port that tells versions apart.
func mudFile(url, sig string, port int) []byte {
	s := ""
	if sig != "" {
		s = `"mud-signature":"` + sig + `",`
	}
	return []byte(`{"ietf-mud:mud":{"mud-version":1,"mud-url":"` + url + `",` + s + `"last-update":"2026-01-01T00:00:00Z",
	"cache-validity":24,"is-supported":true,"systeminfo":"test camera",
	"from-device-policy":{"access-lists":{"access-list":[{"name":"out"}]}}},
	"ietf-access-control-list:acls":{"acl":[{"name":"out","type":"ipv4-acl-type","aces":{"ace":[
	{"name":"a","matches":{"tcp":{"destination-port":{"port":` + fmt.Sprint(port) + `}}},"actions":{"forwarding":"accept"}}]}}]}}`)
}

// server is a real TLS server for MUD files; handlers can be switched to
// failing.
type server struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	fail  bool
}

func newServer(t *testing.T) *server {
	s := &server{files: map[string][]byte{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		b, ok := s.files[r.URL.Path]
		fail := s.fail
		s.mu.Unlock()
		switch {
		case fail:
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		case !ok:
			http.NotFound(w, r)
		default:
			w.Write(b)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) set(path string, b []byte) {
	s.mu.Lock()
	s.files[path] = b
	s.mu.Unlock()
}

func (s *server) down(on bool) {
	s.mu.Lock()
	s.fail = on
	s.mu.Unlock()
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t     *testing.T
	srv   *server
	reg   *registry.Registry
	enf   *fakeFirewall
	clock *clock
	o     *Owner
	dir   string
	stop  func()
}

type setup struct {
	policy   config.SignaturePolicy
	anchors  *x509.CertPool
	noEnf    bool
	off      bool
	dir      string
	srv      *server
	enforcer *fakeFirewall
}

func start(t *testing.T, s setup) *harness {
	t.Helper()
	if s.dir == "" {
		s.dir = t.TempDir()
	}
	if s.srv == nil {
		s.srv = newServer(t)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := registry.Open(filepath.Join(s.dir, "devices.json"), log)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, srv: s.srv, reg: reg, enf: s.enforcer, clock: &clock{t: time.Now()}, dir: s.dir}
	if h.enf == nil {
		h.enf = newFirewall()
	}
	fetcher := &mud.Fetcher{Client: s.srv.Client(), Dir: filepath.Join(s.dir, "mud"), Timeout: 5 * time.Second, Now: h.clock.Now}
	mgr := mudpolicy.New(mudpolicy.Options{Source: fetcher, Policy: s.policy, Anchors: s.anchors, Now: h.clock.Now, Off: s.off})
	o := Options{Log: log, Registry: reg, MUD: mgr, Segments: segments, DefaultSegment: "iot", Now: h.clock.Now}
	if !s.noEnf {
		o.Firewall = h.enf
	}
	h.o = New(o)
	return h
}

// run starts the owner and waits until it is ready.
func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.o.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				h.t.Errorf("Run: %v", err)
			}
		})
	}
	h.t.Cleanup(h.stop)
	select {
	case <-h.o.Ready():
	case err := <-done:
		h.t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(10 * time.Second):
		h.t.Fatal("owner not ready")
	}
}

func (h *harness) addDevice(id, url string) {
	h.t.Helper()
	if err := h.reg.Put(registry.Device{ID: id, Name: "Camera " + id, MACs: []string{"02:00:00:00:00:0" + id[len(id)-1:]}, Segment: "iot", State: registry.StateConnected, MUDURL: url}); err != nil {
		h.t.Fatal(err)
	}
}

// waitStatus waits until the device's MUD status is want and its detail
// contains detail, and returns the device.
func (h *harness) waitStatus(id, want, detail string) registry.Device {
	h.t.Helper()
	return h.waitStatusNot(id, want, detail, "\x00")
}

// waitStatusNot is waitStatus for a detail that also lacks not.
func (h *harness) waitStatusNot(id, want, detail, not string) registry.Device {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := h.reg.Get(id)
		// As the householder sees it: the decision and whether it is in force.
		status, det := h.o.MUD(d)
		if err == nil && status == want && strings.Contains(det, detail) && !strings.Contains(det, not) {
			return d
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("device %s: MUD status %q (%s), want %q containing %q", id, status, det, want, detail)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) waitApplied(id string, cond func(firewall.Device) bool, what string) firewall.Device {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p, ok := h.enf.get(id); ok && cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			p, _ := h.enf.get(id)
			h.t.Fatalf("device %s: firewall never got %s; it has %+v", id, what, p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasPort(port uint16) func(firewall.Device) bool {
	return func(p firewall.Device) bool {
		return p.Policy != nil && len(p.Policy.FromDevice) == 1 && p.Policy.FromDevice[0].DstPorts.Lo == port
	}
}

func noPolicy(p firewall.Device) bool { return p.Policy == nil }

// The real path: a TLS server serves a signed MUD file and its detached
// CMS signature; the manager fetches both, verifies them against the
// household's trust anchor and hands the policy to the firewall.
func TestSignedFileEndToEnd(t *testing.T) {
	now := time.Now()
	ca := mudtest.NewCA(t, "Camera Maker CA", now.Add(-time.Hour), now.Add(72*time.Hour))
	signer := ca.Signer(t, "mud.camera-maker.example", false, []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, now.Add(-time.Hour), now.Add(72*time.Hour))
	h := start(t, setup{policy: config.SignatureApprove, anchors: ca.Pool()})
	url := h.srv.URL + "/cam.json"
	file := mudFile(url, h.srv.URL+"/cam.p7s", 443)
	h.srv.set("/cam.json", file)
	h.srv.set("/cam.p7s", signer.Sign(t, file, true, now))
	h.addDevice("d1", url)
	h.run()

	d := h.waitStatus("d1", "enforced", "signed by CN=mud.camera-maker.example")
	p := h.waitApplied("d1", hasPort(443), "the signed policy")
	if p.Segment != "iot" || len(p.MACs) != 1 || p.Manufacturer != "127.0.0.1" || p.Policy.Systeminfo != "test camera" {
		t.Errorf("firewall got %+v", p)
	}
	if d.MUDDigest != mud.Digest(file) || d.MUDFetched.IsZero() {
		t.Errorf("recorded digest %s fetched %v", d.MUDDigest, d.MUDFetched)
	}

	// A file replaced on the server without a new signature is refused at
	// its next refresh; the file verified before stays in force.
	h.srv.set("/cam.json", mudFile(url, h.srv.URL+"/cam.p7s", 8080))
	h.clock.Add(25 * time.Hour)
	h.o.kick("d1")
	h.waitStatus("d1", "pending-approval", "changed after signing")
	if p, _ := h.enf.get("d1"); !hasPort(443)(p) {
		d, _ := h.reg.Get("d1")
		t.Errorf("tampered refresh changed the firewall: %+v (%s: %s) %v", p.Policy, d.MUDStatus, d.MUDDetail, h.enf.calls)
	}
}

// Unsigned files under the default policy wait for the householder, whose
// approval is bound to the file's SHA-256.
func TestApprovalBoundToDigest(t *testing.T) {
	h := start(t, setup{policy: config.SignatureApprove})
	url := h.srv.URL + "/plug.json"
	h.srv.set("/plug.json", mudFile(url, "", 443))
	h.addDevice("d2", url)
	h.run()

	h.waitStatus("d2", "pending-approval", "until you approve this file")
	h.waitApplied("d2", noPolicy, "the segment default")

	d, err := h.o.ApproveMUD(context.Background(), "d2", Householder)
	if err != nil {
		t.Fatal(err)
	}
	if d.MUDStatus != "enforced" || d.MUDApproved != mud.Digest(mudFile(url, "", 443)) {
		t.Fatalf("after approval: %s (%s), approved %s", d.MUDStatus, d.MUDDetail, d.MUDApproved)
	}
	h.waitApplied("d2", hasPort(443), "the approved policy")
	if _, err := h.o.ApproveMUD(context.Background(), "d2", Householder); !fault.Is(err, fault.Conflict) {
		t.Errorf("approving an enforced file again: %v", err)
	}

	// The manufacturer changes the file: approval does not carry over, and
	// the approved file stays in force meanwhile.
	h.srv.set("/plug.json", mudFile(url, "", 8443))
	h.clock.Add(25 * time.Hour)
	h.o.kick("d2")
	h.waitStatus("d2", "pending-approval", "the file enforced before stays in force")
	if p, _ := h.enf.get("d2"); !hasPort(443)(p) {
		t.Fatalf("changed file took effect without approval: %+v", p.Policy)
	}
	if _, err := h.o.ApproveMUD(context.Background(), "d2", Householder); err != nil {
		t.Fatal(err)
	}
	h.waitApplied("d2", hasPort(8443), "the newly approved policy")
}

// A refresh that fails keeps the last good file in force and says so.
func TestRefreshFailureKeepsLastGood(t *testing.T) {
	h := start(t, setup{policy: config.SignatureAllow})
	url := h.srv.URL + "/bulb.json"
	h.srv.set("/bulb.json", mudFile(url, "", 443))
	h.addDevice("d3", url)
	h.run()
	h.waitStatus("d3", "enforced", "signature policy 'allow'")
	h.waitApplied("d3", hasPort(443), "the allowed policy")

	h.srv.down(true)
	h.clock.Add(25 * time.Hour)
	h.o.kick("d3")
	h.waitStatus("d3", "enforced", "refreshing the file failed (failed to fetch the MUD file: server answered 503")
	if p, _ := h.enf.get("d3"); !hasPort(443)(p) {
		t.Fatalf("failed refresh changed the firewall: %+v", p)
	}
	// Back up: the next refresh clears the complaint.
	h.srv.down(false)
	h.clock.Add(16 * time.Minute)
	h.o.kick("d3")
	h.waitStatusNot("d3", "enforced", "signature policy 'allow'", "failed")
}

func TestNeverFetched(t *testing.T) {
	h := start(t, setup{policy: config.SignatureAllow})
	h.srv.down(true)
	h.addDevice("d4", h.srv.URL+"/gone.json")
	h.run()
	h.waitStatus("d4", "fetch-failed", "server answered 503")
	h.waitApplied("d4", noPolicy, "the segment default")
}

func TestRequireRejectsUnsigned(t *testing.T) {
	h := start(t, setup{policy: config.SignatureRequire})
	url := h.srv.URL + "/tv.json"
	h.srv.set("/tv.json", mudFile(url, h.srv.URL+"/missing.p7s", 443))
	h.addDevice("d5", url)
	h.run()
	h.waitStatus("d5", "rejected", "signature (https://127.0.0.1")
	h.waitApplied("d5", noPolicy, "the segment default")
	if _, err := h.o.ApproveMUD(context.Background(), "d5", Householder); !fault.Is(err, fault.Conflict) {
		t.Errorf("approval under require: %v", err)
	}
}

// Moves, quarantine, a MUD URL the device sends and removal reach the
// firewall through the owner.
func TestFollowsChanges(t *testing.T) {
	h := start(t, setup{policy: config.SignatureAllow})
	h.addDevice("d6", "")
	h.run()
	p := h.waitApplied("d6", noPolicy, "the device")
	if p.Segment != "iot" {
		t.Fatalf("segment %q", p.Segment)
	}
	if _, err := h.o.Quarantine(ctx, "d6", Householder); err != nil {
		t.Fatal(err)
	}
	h.waitApplied("d6", func(p firewall.Device) bool { return p.Segment == "quarantine" && p.Quarantined }, "the move")

	// A MUD URL arriving later (as DPP records it) is fetched and applied.
	url := h.srv.URL + "/late.json"
	h.srv.set("/late.json", mudFile(url, "", 9000))
	if _, err := h.o.SetMUDURL(ctx, "d6", url, FromDPP); err != nil {
		t.Fatal(err)
	}
	h.waitApplied("d6", hasPort(9000), "the late MUD policy")

	if _, err := h.o.Remove(ctx, "d6", Householder); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := h.enf.get("d6"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("removed device still in the firewall")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Without a firewall the status says the policy is not enforced.
func TestStatusOnlyWithoutEnforcer(t *testing.T) {
	h := start(t, setup{policy: config.SignatureAllow, noEnf: true})
	url := h.srv.URL + "/x.json"
	h.srv.set("/x.json", mudFile(url, "", 443))
	h.addDevice("d7", url)
	h.run()
	h.waitStatus("d7", "enforced", "not enforced: this daemon has no firewall")
}

// With MUD turned off nothing is fetched, but segments and quarantine
// still reach the firewall.
func TestOffStillConfinesBySegment(t *testing.T) {
	h := start(t, setup{policy: config.SignatureAllow, off: true})
	url := h.srv.URL + "/off.json"
	h.srv.set("/off.json", mudFile(url, "", 443))
	h.addDevice("d9", url)
	h.run()
	h.waitStatus("d9", "none", "MUD is turned off")
	p := h.waitApplied("d9", func(p firewall.Device) bool { return p.Segment == "iot" }, "its segment")
	if p.Policy != nil {
		t.Errorf("a MUD policy was applied with MUD turned off: %+v", p.Policy)
	}
	if _, err := h.o.Quarantine(ctx, "d9", Householder); err != nil {
		t.Fatal(err)
	}
	h.waitApplied("d9", func(p firewall.Device) bool { return p.Quarantined }, "the quarantine")
}

// A firewall failure is reported and retried.
func TestEnforcerFailureRetried(t *testing.T) {
	enf := newFirewall()
	enf.fail(errors.New("netlink: permission denied"))
	h := start(t, setup{policy: config.SignatureAllow, enforcer: enf})
	url := h.srv.URL + "/y.json"
	h.srv.set("/y.json", mudFile(url, "", 443))
	h.addDevice("d8", url)
	h.run()
	h.waitStatus("d8", "enforced", "the firewall failed to apply it and will be asked again: netlink: permission denied")
	enf.mu.Lock()
	enf.failing = nil
	enf.mu.Unlock()
	h.clock.Add(2 * time.Minute)
	h.o.kick("d8")
	h.waitApplied("d8", hasPort(443), "the policy on retry")
}

// After a restart, enforcement is back from the cache before Ready, with
// the manufacturer's server unreachable.
func TestRestoreBeforeReady(t *testing.T) {
	dir := t.TempDir()
	h := start(t, setup{policy: config.SignatureAllow, dir: dir})
	url := h.srv.URL + "/z.json"
	h.srv.set("/z.json", mudFile(url, "", 443))
	h.addDevice("d9", url)
	h.run()
	h.waitApplied("d9", hasPort(443), "the policy")
	h.stop()

	h.srv.down(true)
	h2 := start(t, setup{policy: config.SignatureAllow, dir: dir, srv: h.srv})
	h2.run()
	if p, ok := h2.enf.get("d9"); !ok || !hasPort(443)(p) {
		t.Fatalf("not restored before ready: %+v", p)
	}
}

func TestSetURL(t *testing.T) {
	h := start(t, setup{})
	h.addDevice("d10", "")
	for _, bad := range []string{"http://mfg.example/cam.json", "ftp://x/y", "https:///nohost", "https://user:pw@mfg.example/x", "not a url"} {
		if _, err := h.o.SetMUDURL(ctx, "d10", bad, FromUser); !fault.Is(err, fault.Invalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	d, err := h.o.SetMUDURL(ctx, "d10", "https://mfg.example/cam.json", FromDHCP)
	if err != nil || d.MUDURL != "https://mfg.example/cam.json" || d.MUDStatus != "fetching" {
		t.Fatalf("%+v %v", d, err)
	}
	// DHCP may not change the manufacturer; the householder may.
	if _, err := h.o.SetMUDURL(ctx, "d10", "https://evil.example/cam.json", FromDHCP); !fault.Is(err, fault.Conflict) {
		t.Errorf("dhcp changing manufacturer: %v", err)
	}
	if d, err := h.o.SetMUDURL(ctx, "d10", "https://mfg.example/cam-v2.json", FromDHCP); err != nil || d.MUDURL != "https://mfg.example/cam-v2.json" {
		t.Errorf("dhcp, same manufacturer: %v", err)
	}
	if _, err := h.o.SetMUDURL(ctx, "d10", "https://other.example/cam.json", FromUser); err != nil {
		t.Errorf("by hand: %v", err)
	}
	if _, err := h.o.SetMUDURL(ctx, "nope", "https://mfg.example/cam.json", FromUser); !fault.Is(err, fault.NotFound) {
		t.Errorf("unknown device: %v", err)
	}
}
