package device

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/google/go-cmp/cmp"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/dpp/dpptest"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

var ctx = context.Background()

func TestRemoveWithdrawsCredential(t *testing.T) {
	r := newRig(t, time.Second)
	p, _ := credential.NewPassphrase()
	r.psk.Set("d-1", 20, p)
	r.reg.Put(registry.Device{ID: "d-1", KeyID: "d-1", Name: "Cam", MACs: []string{"02:00:00:00:01:00"}, State: registry.StateConnected})
	if _, err := r.o.Remove(ctx, "Cam", Householder); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := r.psk.Lookup("d-1"); ok {
		t.Fatal("credential line still present")
	}
	for _, want := range []string{"RELOAD_WPA_PSK", "DEAUTHENTICATE 02:00:00:00:01:00", "PMKSA_FLUSH"} {
		if len(r.c.Sent(want)) == 0 {
			t.Errorf("remove did not send %s", want)
		}
	}
	if _, err := r.reg.Get("d-1"); !fault.Is(err, fault.NotFound) {
		t.Fatalf("removed device still listed: %v", err)
	}
}

// An ISP pushes its devices in bulk: every URI is checked, bad ones are
// reported by index and the good ones kept and armed for chirping.
func TestBulkPreauthorize(t *testing.T) {
	r := newRig(t, time.Second)
	var entries []PreauthEntry
	for i := 0; i < 1000; i++ {
		uri := dpptest.URI(t)
		if i%10 == 3 {
			uri = strings.Replace(uri, "K:", "K:@", 1) // broken base64
		}
		entries = append(entries, PreauthEntry{URI: uri, Segment: "iot", AddedBy: "isp"})
	}
	added, errs := r.o.Preauthorize(ctx, entries)
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
	if got := len(r.c.Sent("DPP_BOOTSTRAP_SET")); got != 900 {
		t.Fatalf("%d devices armed for chirping, want 900", got)
	}
	ids, _ := r.psk.KeyIDs()
	if len(ids) != 900 {
		t.Fatalf("%d credential lines, want 900", len(ids))
	}
	// Each line a PSK, so hostapd's reloads derive nothing; DPP carries
	// the same PSK.
	passes, _ := r.psk.Passphrases()
	sets := strings.Join(r.c.Sent("DPP_BOOTSTRAP_SET"), "\n")
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

// A PSK device cannot be reconfigured over DPP: rotation keeps its working
// credential and asks for a new scan, which then replaces it.
func TestRotateAsksForRescan(t *testing.T) {
	r := newRig(t, time.Second)
	p, _ := credential.NewPassphrase()
	r.psk.Set("d-1", 20, p)
	r.reg.Put(registry.Device{ID: "d-1", KeyID: "d-1", Name: "Cam", State: registry.StateConnected})
	d, err := r.o.Rotate(ctx, "d-1", Householder)
	if err != nil || d.State != registry.StateNeedsReonboarding {
		t.Fatalf("Rotate: %+v %v", d, err)
	}
	if got, ok, _ := r.psk.Lookup("d-1"); !ok || !got.Equal(p) {
		t.Fatal("rotation cut the device off before it was scanned again")
	}
	// A later connection must not hide that a rescan is due.
	r.ev("AP-STA-CONNECTED", "02:00:00:00:01:00", "keyid=d-1")
	if d, _ := r.reg.Get("d-1"); d.State != registry.StateNeedsReonboarding {
		t.Fatalf("state after reconnecting: %s", d.State)
	}
	if _, err := r.o.Rotate(ctx, "nobody", Householder); !fault.Is(err, fault.NotFound) {
		t.Fatalf("rotating an unknown device: %v", err)
	}
}

func TestIssuePassphrase(t *testing.T) {
	r := newRig(t, time.Minute)
	l, err := r.o.IssuePassphrase(ctx, "Old printer", "guest", Phone)
	if err != nil {
		t.Fatal(err)
	}
	if l.SSID != "Home" || l.Device.Name != "Old printer" || l.Device.Segment != "guest" || l.Device.State != registry.StateOnboarded {
		t.Fatalf("issued %+v", l)
	}
	passes, err := r.psk.Passphrases()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := passes[l.Device.KeyID]; !ok || !p.Equal(l.Passphrase) {
		t.Fatalf("the PSK file does not hold the passphrase issued for %s", l.Device.KeyID)
	}
	b, _ := os.ReadFile(r.psk.Path())
	if !strings.Contains(string(b), "keyid="+l.Device.KeyID+" vlanid=30 ") {
		t.Fatalf("PSK file lacks the device's VLAN 30 line:\n%s", b)
	}
	if len(r.c.Sent("RELOAD_WPA_PSK")) == 0 {
		t.Fatal("hostapd was not asked to reload its PSKs")
	}
	if d, err := r.reg.Get(l.Device.ID); err != nil || d.KeyID != l.Device.KeyID {
		t.Fatalf("registry: %+v, %v", d, err)
	}
	clear, _ := hex.DecodeString(l.Passphrase.Hex())
	if strings.Contains(r.logs.String(), string(clear)) {
		t.Fatal("the passphrase is in the log")
	}
	if _, err := r.o.IssuePassphrase(ctx, "x", "nowhere", Phone); !fault.Is(err, fault.Invalid) {
		t.Fatalf("unknown segment: %v", err)
	}
}

// Moving or quarantining a device changes its line's VLAN (keeping its
// secret) and has it reconnect, and the firewall confines it anew, before
// the call returns.
func TestMoveAndQuarantineInForce(t *testing.T) {
	r := newRig(t, time.Second)
	p, _ := credential.NewPassphrase()
	r.psk.Set("d-1", 20, p)
	r.reg.Put(registry.Device{ID: "d-1", KeyID: "d-1", Name: "Cam", Segment: "iot", MACs: []string{"02:00:00:00:01:00"}, State: registry.StateConnected})
	if _, err := r.o.Move(ctx, "Cam", "guest", Householder); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(r.psk.Path())
	if got, _, _ := r.psk.Lookup("d-1"); !got.Equal(p) || !strings.Contains(string(b), "keyid=d-1 vlanid=30 ") {
		t.Fatalf("line after the move:\n%s", b)
	}
	if len(r.c.Sent("DEAUTHENTICATE 02:00:00:00:01:00")) != 1 {
		t.Fatal("the moved device was not made to reconnect")
	}
	if d, ok := r.fw.get("d-1"); !ok || d.Segment != "guest" || d.Quarantined {
		t.Fatalf("firewall after the move: %+v", d)
	}
	if _, err := r.o.Quarantine(ctx, "Cam", Householder); err != nil {
		t.Fatal(err)
	}
	if d, ok := r.fw.get("d-1"); !ok || d.Segment != "quarantine" || !d.Quarantined {
		t.Fatalf("firewall after quarantine: %+v", d)
	}
	f := r.o.InForce("d-1")
	if !f.Confined || f.Problem != "" || f.Counters == nil || f.Counters.DroppedPackets != 3 {
		t.Fatalf("in force: %+v", f)
	}
	if _, err := r.o.Move(ctx, "Cam", "garage", Householder); !fault.Is(err, fault.Invalid) {
		t.Fatalf("move to an unknown segment: %v", err)
	}
}

// A list of devices gets what is in force for each, with the firewall's
// counters read once for them all; a device the firewall does not hold
// has none.
func TestInForceAll(t *testing.T) {
	r := newRig(t, time.Second)
	for i, name := range []string{"Cam", "Plug", "Bulb"} {
		d := registry.Device{ID: fmt.Sprintf("d-%d", i), Name: name, Segment: "iot", State: registry.StateConnected}
		if name != "Bulb" {
			d.MACs = []string{fmt.Sprintf("02:00:00:00:01:%02x", i)}
		}
		r.reg.Put(d)
		if _, err := r.o.Rename(ctx, d.ID, name+"!", Householder); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both devices with a MAC in the firewall", func() bool {
		_, a := r.fw.get("d-0")
		_, b := r.fw.get("d-1")
		return a && b
	})
	r.fw.mu.Lock()
	r.fw.reads = 0
	r.fw.mu.Unlock()
	all := r.o.InForceAll()
	for _, id := range []string{"d-0", "d-1"} {
		if f := all[id]; !f.Confined || f.Counters == nil || f.Counters.AcceptedPackets != 7 {
			t.Errorf("%s: %+v", id, f)
		}
	}
	if f := all["d-2"]; f.Confined || f.Counters != nil {
		t.Errorf("a device without a MAC address is not in the firewall: %+v", f)
	}
	r.fw.mu.Lock()
	reads := r.fw.reads
	r.fw.mu.Unlock()
	if reads != 1 {
		t.Errorf("%d reads of the firewall's counters for one list, want 1", reads)
	}
}

// Only the householder lifts a quarantine; the rule holds for every
// change, and Options.Allow adds rules of one's own.
func TestRules(t *testing.T) {
	var seen []Change
	r := newRig(t, time.Second, func(o *Options) {
		o.Allow = func(c Change) error {
			if c.Kind == Renamed && c.After.Name == "forbidden" {
				return fault.New(fault.Forbidden, "not that name")
			}
			return nil
		}
		o.Observe = func(c Change) { seen = append(seen, c) }
	})
	r.reg.Put(registry.Device{ID: "d-1", Name: "Cam", Segment: "quarantine", Quarantined: true, State: registry.StateConnected})
	for _, by := range []Actor{Phone, Self, System} {
		if _, err := r.o.Release(ctx, "Cam", by); !fault.Is(err, fault.Forbidden) {
			t.Errorf("%s released a quarantined device: %v", by, err)
		}
	}
	if _, err := r.o.Rename(ctx, "Cam", "forbidden", Householder); !fault.Is(err, fault.Forbidden) {
		t.Errorf("Allow not asked: %v", err)
	}
	d, err := r.o.Release(ctx, "Cam", Householder)
	if err != nil || d.Quarantined || d.Segment != "iot" {
		t.Fatalf("householder's release: %+v %v", d, err)
	}
	if len(seen) != 1 || seen[0].Kind != Released || !seen[0].Before.Quarantined || seen[0].After.Quarantined {
		t.Fatalf("observed %+v", seen)
	}
}

// Release undoes a quarantine: the device goes back to the segment it was
// quarantined from, not to the default one.
func TestReleaseReturnsHome(t *testing.T) {
	tests := []struct {
		name, from, want string
	}{
		{"a guest stays a guest", "guest", "guest"},
		{"the default segment", "iot", "iot"},
		{"a segment since removed", "lab", "iot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, time.Second)
			r.reg.Put(registry.Device{ID: "d-1", Name: "Cam", Segment: tt.from, State: registry.StateConnected})
			for range 2 { // quarantined twice: still remembers where from
				d, err := r.o.Quarantine(ctx, "Cam", System)
				if err != nil || !d.Quarantined || d.QuarantinedFrom != tt.from {
					t.Fatalf("Quarantine: %+v %v", d, err)
				}
			}
			d, err := r.o.Release(ctx, "Cam", Householder)
			if err != nil || d.Quarantined || d.Segment != tt.want || d.QuarantinedFrom != "" {
				t.Fatalf("Release: segment %q quarantined %v from %q, %v; want segment %q", d.Segment, d.Quarantined, d.QuarantinedFrom, err, tt.want)
			}
			// Releasing a device that is not quarantined moves nothing.
			if d, err := r.o.Release(ctx, "Cam", Phone); err != nil || d.Segment != tt.want {
				t.Fatalf("second Release: %+v %v", d, err)
			}
		})
	}
}

// Expiry withdraws the credential and cuts the device off; it keeps its
// place in the household.
func TestExpire(t *testing.T) {
	r := newRig(t, time.Second)
	p, _ := credential.NewPassphrase()
	r.psk.Set("d-1", 20, p)
	r.reg.Put(registry.Device{ID: "d-1", KeyID: "d-1", Name: "Cam", Segment: "iot", MACs: []string{"02:00:00:00:01:00"}, State: registry.StateConnected})
	d, err := r.o.Expire(ctx, "d-1", "a year old")
	if err != nil || d.State != registry.StateNeedsReonboarding || d.Segment != "iot" {
		t.Fatalf("Expire: %+v %v", d, err)
	}
	if _, ok, _ := r.psk.Lookup("d-1"); ok {
		t.Fatal("an expired credential's line is still there")
	}
	if len(r.c.Sent("DEAUTHENTICATE 02:00:00:00:01:00")) == 0 || len(r.c.Sent("PMKSA_FLUSH")) == 0 {
		t.Fatal("the device was not cut off")
	}
}

// A firewall that fails is reported, and asked again.
func TestFirewallFailureReported(t *testing.T) {
	r := newRig(t, time.Second)
	r.fw.fail(errors.New("netlink: permission denied"))
	r.reg.Put(registry.Device{ID: "d-1", KeyID: "d-1", Name: "Cam", Segment: "iot", MACs: []string{"02:00:00:00:01:00"}, State: registry.StateConnected})
	if _, err := r.o.Quarantine(ctx, "d-1", Householder); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("quarantine with a failing firewall: %v", err)
	}
	if f := r.o.InForce("d-1"); f.Confined || !strings.Contains(f.Problem, "permission denied") {
		t.Fatalf("in force: %+v", f)
	}
}

// Every change that is saved is announced to the observer, whoever made
// it; a change whose save fails is neither announced nor enforced, and the
// device stays as it was.
func TestChangesAnnouncedOnlyWhenSaved(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	r := newRig(t, time.Second, func(o *Options) {
		o.Observe = func(c Change) {
			mu.Lock()
			seen = append(seen, string(c.Kind)+" "+c.After.ID+" by "+string(c.By))
			mu.Unlock()
		}
	})
	r.reg.Put(registry.Device{ID: "d-1", KeyID: "d-1", Name: "Cam", Segment: "iot", State: registry.StateDisconnected})
	r.ev("AP-STA-CONNECTED", "02:00:00:00:01:00", "keyid=d-1")
	if _, err := r.o.Move(ctx, "Cam", "guest", Householder); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := strings.Join(seen, ", ")
	mu.Unlock()
	if got != "connected d-1 by device, moved d-1 by householder" {
		t.Fatalf("announced: %s", got)
	}
	// A non-empty directory where the registry goes: saves fail.
	path := filepath.Join(r.dir, "devices.json")
	os.Remove(path)
	os.MkdirAll(filepath.Join(path, "blocker"), 0o700)
	if _, err := r.o.Quarantine(ctx, "Cam", Householder); err == nil {
		t.Fatal("quarantine succeeded although it could not be saved")
	}
	mu.Lock()
	n := len(seen)
	mu.Unlock()
	if n != 2 {
		t.Fatalf("a change that was never saved was announced: %v", seen)
	}
	if d, _ := r.fw.get("d-1"); d.Quarantined {
		t.Fatal("a change that was never saved reached the firewall")
	}
	if d, _ := r.reg.Get("d-1"); d.Quarantined || d.Segment != "guest" {
		t.Fatalf("device after a failed save: %+v", d)
	}
}

// The configuration's pre-authorised devices (sections "preauth") become
// the registry's, follow the file as it changes, and leave alone the ones
// added by hand; a bad entry changes nothing, and only the
// configuration removes its own.
func TestSyncPreauths(t *testing.T) {
	r := newRig(t, time.Second)
	byHand, errs := r.o.Preauthorize(ctx, []PreauthEntry{{URI: dpptest.URI(t), AddedBy: "user"}})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cam, plug, bulb := dpptest.URI(t), dpptest.URI(t), dpptest.URI(t)
	state := func() map[string]string {
		out := map[string]string{}
		for _, p := range r.reg.Preauths() {
			out[p.Section+"/"+p.AddedBy] = p.Segment + " " + p.Name
		}
		return out
	}
	sync := func(es ...PreauthEntry) {
		t.Helper()
		if err := r.o.SyncPreauths(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	sync(PreauthEntry{Section: "preauth_1", URI: cam, Name: "Camera"}, PreauthEntry{Section: "preauth_2", URI: plug, Segment: "guest"})
	want := map[string]string{"/user": "iot ", "preauth_1/config": "iot Camera", "preauth_2/config": "guest "}
	if diff := cmp.Diff(want, state()); diff != "" {
		t.Fatalf("after the first sync (-want +got):\n%s", diff)
	}
	before := r.reg.Preauths()
	sync(PreauthEntry{Section: "preauth_1", URI: cam, Name: "Camera"}, PreauthEntry{Section: "preauth_2", URI: plug, Segment: "guest"})
	if diff := cmp.Diff(before, r.reg.Preauths()); diff != "" {
		t.Fatalf("in sync, yet the entries changed (-before +after):\n%s", diff)
	}
	// preauth_1 gone, preauth_2 another segment, preauth_3 new.
	sync(PreauthEntry{Section: "preauth_2", URI: plug, Segment: "iot"}, PreauthEntry{Section: "preauth_3", URI: bulb})
	want = map[string]string{"/user": "iot ", "preauth_2/config": "iot ", "preauth_3/config": "iot "}
	if diff := cmp.Diff(want, state()); diff != "" {
		t.Fatalf("after the file changed (-want +got):\n%s", diff)
	}
	// A bad key, two sections for one device, no such segment: refused
	// whole, with the section named; nothing changes.
	before = r.reg.Preauths()
	for _, tt := range []struct {
		es   []PreauthEntry
		want string
	}{
		{[]PreauthEntry{{Section: "preauth_4", URI: dpptest.URI(t)}, {Section: "preauth_5", URI: strings.Replace(bulb, "K:", "K:@", 1)}}, `preauth "preauth_5", option 'uri': K:`},
		{[]PreauthEntry{{Section: "a", URI: cam}, {Section: "b", URI: cam}}, `preauth "b": the same device (public key) as preauth "a"`},
		{[]PreauthEntry{{Section: "a", URI: cam, Segment: "nowhere"}}, `preauth "a": no segment "nowhere"`},
	} {
		if err := r.o.SyncPreauths(ctx, tt.es); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error containing %q", tt.es, err, tt.want)
		}
	}
	if diff := cmp.Diff(before, r.reg.Preauths()); diff != "" {
		t.Fatalf("a refused sync changed the entries (-before +after):\n%s", diff)
	}
	if err := r.o.RemovePreauth(ctx, r.reg.Preauths()[1].ID); !fault.Is(err, fault.Invalid) {
		t.Errorf("an entry of the configuration removed by hand: %v", err)
	}
	sync()
	if diff := cmp.Diff(map[string]string{"/user": "iot "}, state()); diff != "" || r.reg.Preauths()[0].ID != byHand[0].ID {
		t.Fatalf("with no section left (-want +got):\n%s", diff)
	}
}

// The authorisation hook (Options.Authorize) is asked before a
// pre-authorised device is listened for, from the API or the
// configuration, and before a device is given a passphrase of its own: a
// refusal leaves no entry, no line and nothing armed; a segment it names
// is the device's.
func TestAuthorizeBeforeChirpAndPassphrase(t *testing.T) {
	var asked []Authorization
	r := newRig(t, time.Minute, func(o *Options) {
		o.Authorize = func(_ context.Context, a Authorization) (string, error) {
			asked = append(asked, a)
			switch a.Name {
			case "Denied":
				return "", fault.New(fault.Forbidden, "the authorisation hook refused this device a credential: not ours")
			case "Moved":
				return "guest", nil
			}
			return a.Segment, nil
		}
	})
	denied, moved, fine := dpptest.URI(t), dpptest.URI(t), dpptest.URI(t)
	added, errs := r.o.Preauthorize(ctx, []PreauthEntry{{URI: denied, Name: "Denied"}, {URI: moved, Name: "Moved"}, {URI: fine, Name: "Fine"}})
	if len(added) != 2 || len(errs) != 1 || !fault.Is(errs[0], fault.Forbidden) || !strings.Contains(errs[0].Error(), "not ours") {
		t.Fatalf("added %+v, refused %v; want the first refused with the hook's reason", added, errs)
	}
	if added[0].Name != "Moved" || added[0].Segment != "guest" || added[1].Segment != "iot" {
		t.Fatalf("added %+v; want Moved in guest, Fine in iot", added)
	}
	if len(asked) != 3 || asked[0].Via != "chirp" || asked[0].KeyHash == "" || asked[0].Segment != "iot" {
		t.Fatalf("the hook was asked %+v", asked)
	}
	sets := strings.Join(r.c.Sent("DPP_BOOTSTRAP_SET"), "\n")
	if n := len(r.c.Sent("DPP_BOOTSTRAP_SET")); n != 2 {
		t.Fatalf("%d devices armed for chirping, want 2:\n%s", n, sets)
	}
	if ids, _ := r.psk.KeyIDs(); len(ids) != 2 {
		t.Fatalf("%d credential lines, want 2", len(ids))
	}
	// From the configuration: a refused entry is left out, the rest stands.
	cfg := []PreauthEntry{{Section: "a", URI: dpptest.URI(t), Name: "Denied"}, {Section: "b", URI: dpptest.URI(t), Name: "Moved"}}
	if err := r.o.SyncPreauths(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	var fromConfig []string
	for _, p := range r.reg.Preauths() {
		if p.Section != "" {
			fromConfig = append(fromConfig, p.Section+" "+p.Segment)
		}
	}
	if diff := cmp.Diff([]string{"b guest"}, fromConfig); diff != "" {
		t.Fatalf("pre-authorised from the configuration (-want +got):\n%s", diff)
	}
	// The same configuration again (a reload): in sync, although the hook
	// chose another segment than it asks for; the hook is not asked again.
	n, saved := len(asked), r.reg.Preauths()
	if err := r.o.SyncPreauths(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if len(asked) != n+1 || !cmp.Equal(saved, r.reg.Preauths()) {
		t.Fatalf("a reload of the same configuration asked the hook %d times and changed %+v to %+v", len(asked)-n, saved, r.reg.Preauths())
	}
	// A changed entry the hook now refuses is no longer listened for.
	cfg[1].Name = "Denied"
	if err := r.o.SyncPreauths(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for _, p := range r.reg.Preauths() {
		if p.Section != "" {
			t.Fatalf("a refused entry stays pre-authorised: %+v", p)
		}
	}
	// A passphrase of its own.
	before, _ := os.ReadFile(r.psk.Path())
	if _, err := r.o.IssuePassphrase(ctx, "Denied", "iot", Phone); !fault.Is(err, fault.Forbidden) {
		t.Fatalf("a refused device given a passphrase: %v", err)
	}
	if after, _ := os.ReadFile(r.psk.Path()); !bytes.Equal(before, after) {
		t.Fatal("a refused device's passphrase was written")
	}
	l, err := r.o.IssuePassphrase(ctx, "Moved", "iot", Phone)
	if err != nil || l.Device.Segment != "guest" {
		t.Fatalf("moved by the hook: %+v, %v", l.Device, err)
	}
	if last := asked[len(asked)-1]; last.Via != "legacy" || last.Segment != "iot" {
		t.Fatalf("the hook was asked %+v", last)
	}
	if b, _ := os.ReadFile(r.psk.Path()); !strings.Contains(string(b), "keyid="+l.Device.KeyID+" vlanid=30 ") {
		t.Fatalf("the moved device's line is not in VLAN 30:\n%s", b)
	}
}
