package device

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/devname"
	"github.com/trustjoin/trustjoin/src/internal/dpp/dpptest"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// onboarded brings a device onto the network by its code (as the
// householder) and returns it.
func (r *rig) onboarded(t *testing.T, uri, name, mac string) registry.Device {
	t.Helper()
	req, err := r.o.Onboard(ctx, OnboardRequest{Method: "qr", URI: uri, Name: name, By: Householder})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, req.ID, "running")
	waitFor(t, "DPP_AUTH_INIT", func() bool { return len(r.c.Sent("DPP_AUTH_INIT")) > 0 })
	d, _ := r.reg.Get(req.DeviceID)
	r.ev("DPP-CONF-SENT")
	r.ev("AP-STA-CONNECTED", mac, "keyid="+d.Onboarding.KeyID)
	r.wait(t, req.ID, "connected")
	d, err = r.reg.Get(req.DeviceID)
	if err != nil || d.State != registry.StateConnected {
		t.Fatalf("%s not connected: %+v %v", name, d, err)
	}
	return d
}

// The householder scans a device the household has: it gets a fresh
// credential, and the one it had keeps working until it connects with the
// new one. An exchange that fails takes nothing away.
func TestReonboardingKeepsTheWorkingCredential(t *testing.T) {
	r := newRig(t, 300*time.Millisecond)
	uri := dpptest.URI(t)
	cam := r.onboarded(t, uri, "camera", "02:00:00:00:01:00")
	old := r.lines(t)[cam.KeyID]

	// The device is not in pairing mode: the exchange fails.
	req, err := r.o.Onboard(ctx, OnboardRequest{Method: "qr", URI: uri, By: Householder})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, req.ID, "running")
	waitFor(t, "the second DPP_AUTH_INIT", func() bool { return len(r.c.Sent("DPP_AUTH_INIT")) == 2 })
	d, _ := r.reg.Get(cam.ID)
	if req.DeviceID != cam.ID || d.Onboarding == nil || d.Onboarding.KeyID == cam.KeyID {
		t.Fatalf("re-onboarding: request for %s, device %+v", req.DeviceID, d)
	}
	pending := d.Onboarding.KeyID
	if lines := r.lines(t); len(lines) != 2 || !lines[cam.KeyID].Equal(old) {
		t.Fatalf("during the exchange the file holds %d lines, the old one intact: %v", len(lines), lines[cam.KeyID].Equal(old))
	}
	r.ev("DPP-AUTH-INIT-FAILED")
	r.wait(t, req.ID, "failed")
	waitFor(t, "the failure recorded", func() bool { d, _ := r.reg.Get(cam.ID); return d.Onboarding == nil })
	d, _ = r.reg.Get(cam.ID)
	if d.State != registry.StateConnected || d.KeyID != cam.KeyID {
		t.Fatalf("after a failed exchange: %+v", d)
	}
	if lines := r.lines(t); len(lines) != 1 || !lines[cam.KeyID].Equal(old) {
		t.Fatalf("a failed exchange changed the credentials: %d lines", len(lines))
	}
	if n := len(r.c.Sent("DEAUTHENTICATE")); n != 0 {
		t.Fatalf("a failed exchange disconnected the device (%d DEAUTHENTICATE)", n)
	}

	// In pairing mode: it connects with the new credential, which
	// replaces the old one; it is not disconnected for that.
	req, err = r.o.Onboard(ctx, OnboardRequest{Method: "qr", URI: uri, Segment: "guest", By: Householder})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, req.ID, "running")
	waitFor(t, "the third DPP_AUTH_INIT", func() bool { return len(r.c.Sent("DPP_AUTH_INIT")) == 3 })
	d, _ = r.reg.Get(cam.ID)
	fresh := d.Onboarding.KeyID
	if fresh == pending || d.Segment != "iot" {
		t.Fatalf("second attempt: key %s (was %s), segment %s before it connects", fresh, pending, d.Segment)
	}
	r.ev("DPP-CONF-SENT")
	// Until it connects with the new one, its old one still works.
	r.ev("AP-STA-CONNECTED", "02:00:00:00:01:00", "keyid="+cam.KeyID)
	r.ev("AP-STA-CONNECTED", "02:00:00:00:01:00", "keyid="+fresh)
	r.wait(t, req.ID, "connected")
	d, _ = r.reg.Get(cam.ID)
	if d.KeyID != fresh || d.Onboarding != nil || d.Segment != "guest" || d.State != registry.StateConnected {
		t.Fatalf("after connecting with the new credential: %+v", d)
	}
	waitFor(t, "the old line withdrawn", func() bool { _, ok := r.lines(t)[cam.KeyID]; return !ok })
	if lines := r.lines(t); len(lines) != 1 || lines[fresh].Equal(old) {
		t.Fatalf("after onboarding: %d lines", len(lines))
	}
	b, _ := os.ReadFile(r.psk.Path())
	if !strings.Contains(string(b), "keyid="+fresh+" vlanid=30 ") {
		t.Fatalf("new line not in VLAN 30:\n%s", b)
	}
	if n := len(r.c.Sent("DEAUTHENTICATE")); n != 0 {
		t.Fatalf("the device was disconnected after connecting with its new credential (%d DEAUTHENTICATE)", n)
	}
}

// A device that received its new credential but has not connected with it
// in time may still: both lines stay, and connecting later completes it.
func TestConfiguredButLateKeepsBothCredentials(t *testing.T) {
	r := newRig(t, 300*time.Millisecond)
	uri := dpptest.URI(t)
	cam := r.onboarded(t, uri, "camera", "02:00:00:00:01:00")
	req, err := r.o.Onboard(ctx, OnboardRequest{Method: "qr", URI: uri, By: Householder})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, req.ID, "running")
	waitFor(t, "the second DPP_AUTH_INIT", func() bool { return len(r.c.Sent("DPP_AUTH_INIT")) == 2 })
	r.ev("DPP-CONF-SENT")
	p := r.wait(t, req.ID, "failed")
	if !strings.Contains(p.Error, "received its credential but has not connected") {
		t.Fatalf("outcome %q", p.Error)
	}
	d, _ := r.reg.Get(cam.ID)
	if d.Onboarding == nil || len(r.lines(t)) != 2 {
		t.Fatalf("late device: %+v, %d lines", d, len(r.lines(t)))
	}
	r.ev("AP-STA-CONNECTED", "02:00:00:00:01:00", "keyid="+d.Onboarding.KeyID)
	waitFor(t, "the late connection completing the onboarding", func() bool {
		d, _ := r.reg.Get(cam.ID)
		return d.Onboarding == nil && d.KeyID != cam.KeyID && len(r.lines(t)) == 1
	})
}

// A phone link adds new devices only: a device the household has is
// refused, whatever its state, and nothing about it changes. A device
// that was removed is new again.
func TestPhoneAddsNewDevicesOnly(t *testing.T) {
	r := newRig(t, time.Second)
	uri := dpptest.URI(t)
	cam := r.onboarded(t, uri, "camera", "02:00:00:00:01:00")
	if _, err := r.o.Quarantine(ctx, cam.ID, Householder); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(r.psk.Path())
	auths := len(r.c.Sent("DPP_AUTH_INIT"))
	_, err := r.o.Onboard(ctx, OnboardRequest{Method: "qr", URI: uri, Name: "mine now", By: Phone})
	if !fault.Is(err, fault.Forbidden) || !strings.Contains(err.Error(), "camera is already on this network") {
		t.Fatalf("phone re-onboarding a known device: %v", err)
	}
	d, _ := r.reg.Get(cam.ID)
	after, _ := os.ReadFile(r.psk.Path())
	if d.Name != "camera" || !d.Quarantined || d.Segment != "quarantine" || d.Onboarding != nil || string(before) != string(after) || len(r.c.Sent("DPP_AUTH_INIT")) != auths {
		t.Fatalf("a refused phone request changed the device: %+v", d)
	}
	// Removed: the phone may add it again, and it is still quarantined.
	if _, err := r.o.Remove(ctx, cam.ID, Householder); err != nil {
		t.Fatal(err)
	}
	req, err := r.o.Onboard(ctx, OnboardRequest{Method: "qr", URI: uri, By: Phone})
	if err != nil {
		t.Fatalf("phone adding a removed device: %v", err)
	}
	d, _ = r.reg.Get(req.DeviceID)
	if d.ID != cam.ID || !d.Quarantined || d.Onboarding == nil || d.Onboarding.Segment != "quarantine" {
		t.Fatalf("a removed quarantined device came back as %+v", d)
	}
}

// Only the householder lifts a quarantine: scanning a quarantined device
// again, even by the householder into another segment, keeps it in
// quarantine, its new credential too.
func TestQuarantineSticksThroughReonboarding(t *testing.T) {
	r := newRig(t, time.Second)
	uri := dpptest.URI(t)
	cam := r.onboarded(t, uri, "camera", "02:00:00:00:01:00")
	if _, err := r.o.Quarantine(ctx, cam.ID, Householder); err != nil {
		t.Fatal(err)
	}
	req, err := r.o.Onboard(ctx, OnboardRequest{Method: "qr", URI: uri, Segment: "guest", By: Householder})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, req.ID, "running")
	waitFor(t, "the second DPP_AUTH_INIT", func() bool { return len(r.c.Sent("DPP_AUTH_INIT")) == 2 })
	d, _ := r.reg.Get(cam.ID)
	b, _ := os.ReadFile(r.psk.Path())
	if !strings.Contains(string(b), "keyid="+d.Onboarding.KeyID+" vlanid=99 ") {
		t.Fatalf("the new credential of a quarantined device is not in the quarantine VLAN:\n%s", b)
	}
	r.ev("DPP-CONF-SENT")
	r.ev("AP-STA-CONNECTED", "02:00:00:00:01:00", "keyid="+d.Onboarding.KeyID)
	r.wait(t, req.ID, "connected")
	d, _ = r.reg.Get(cam.ID)
	if !d.Quarantined || d.Segment != "quarantine" {
		t.Fatalf("re-onboarding lifted the quarantine: %+v", d)
	}
	if f, _ := r.fw.get(cam.ID); !f.Quarantined {
		t.Fatalf("firewall: %+v", f)
	}
}

// A MUD URL is checked the same way whatever its source: https only, and
// what the device says itself (DHCP, DPP) may not change its
// manufacturer; the householder may. DHCP finds the device by its MAC.
func TestMUDURLOneValidation(t *testing.T) {
	r := newRig(t, time.Second, func(o *Options) { o.MUD = newOfflineMUD() })
	r.reg.Put(registry.Device{ID: "d-1", KeyID: "d-1", Name: "Cam", Segment: "iot", MACs: []string{"02:00:00:00:01:00"}, State: registry.StateConnected})
	for _, src := range []Source{FromDPP, FromDHCP, FromUser} {
		if _, err := r.o.SetMUDURL(ctx, "d-1", "http://mfg.example/cam.json", src); !fault.Is(err, fault.Invalid) {
			t.Errorf("%s: http URL: %v", src, err)
		}
	}
	if _, err := r.o.SetMUDURLByMAC(ctx, "02-00-00-00-01-00", "https://mfg.example/cam.json", FromDHCP); err != nil {
		t.Fatal(err)
	}
	for _, src := range []Source{FromDPP, FromDHCP} {
		if _, err := r.o.SetMUDURL(ctx, "d-1", "https://evil.example/cam.json", src); !fault.Is(err, fault.Conflict) {
			t.Errorf("%s changing the manufacturer: %v", src, err)
		}
	}
	if d, err := r.o.SetMUDURL(ctx, "d-1", "https://other.example/cam.json", FromUser); err != nil || d.MUDURL != "https://other.example/cam.json" {
		t.Fatalf("by hand: %+v %v", d, err)
	}
	if _, err := r.o.SetMUDURLByMAC(ctx, "02:00:00:00:00:99", "https://mfg.example/x.json", FromDHCP); !fault.Is(err, fault.NotFound) || !strings.Contains(err.Error(), "no device with MAC address 02:00:00:00:00:99") {
		t.Errorf("unknown MAC: %v", err)
	}
	if _, err := r.o.SetMUDURLByMAC(ctx, "not a mac", "https://mfg.example/x.json", FromDHCP); !fault.Is(err, fault.Invalid) {
		t.Errorf("bad MAC: %v", err)
	}
}

// The lines of a device whose removal could not finish go at the next
// start, and the lines of a device in a segment the configuration no
// longer has keep their VLAN.
func TestRestoreWithdrawsWhatRemovalLeft(t *testing.T) {
	dir := t.TempDir()
	psk := credential.Open(dir + "/wlan0.psk")
	p, _ := credential.NewPassphrase()
	psk.SetMany([]credential.Entry{{KeyID: "d-gone", VLAN: 20, Pass: p}, {KeyID: "d-old", VLAN: 40, Pass: p}, {KeyID: "by-hand", VLAN: 20, Pass: p}})
	reg, _ := registry.Open(dir+"/devices.json", nil)
	reg.PutMany([]registry.Device{
		{ID: "d-gone", Name: "Gone", State: registry.StateRemoved, MACs: []string{"02:00:00:00:00:01"}},
		{ID: "d-old", KeyID: "d-old", Name: "Old", Segment: "attic", State: registry.StateConnected},
	})
	c := dpptest.NewCtrl()
	o := New(Options{Registry: reg, Segments: segments, DefaultSegment: "iot", AccessPoints: []credential.AccessPoint{{Ifname: "wlan0", File: psk, Ctrl: c}}})
	o.syncAll(ctx)
	ids, _ := psk.KeyIDs()
	b, _ := os.ReadFile(psk.Path())
	if strings.Join(ids, " ") != "d-old by-hand" || !strings.Contains(string(b), "keyid=d-old vlanid=40 ") {
		t.Fatalf("after restoring:\n%s", b)
	}
	if len(c.Sent("DEAUTHENTICATE 02:00:00:00:00:01")) != 1 {
		t.Fatal("the removed device was not disconnected")
	}
}

// A device scanned twice while its first exchange is still on its way gets
// a second key id: the first exchange failing does not take the second's
// line.
func TestScannedTwice(t *testing.T) {
	r := newRig(t, 2*time.Second)
	uri := dpptest.URI(t)
	first, err := r.o.Onboard(ctx, OnboardRequest{Method: "qr", URI: uri, Name: "plug", By: Householder})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, first.ID, "running")
	waitFor(t, "DPP_AUTH_INIT", func() bool { return len(r.c.Sent("DPP_AUTH_INIT")) == 1 })
	second, err := r.o.Onboard(ctx, OnboardRequest{Method: "qr", URI: uri, By: Householder})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := r.reg.Get(first.DeviceID)
	if second.DeviceID != first.DeviceID || d.Onboarding.KeyID == first.DeviceID {
		t.Fatalf("second scan: device %s, key %s", second.DeviceID, d.Onboarding.KeyID)
	}
	key := d.Onboarding.KeyID
	r.ev("DPP-AUTH-INIT-FAILED")
	r.wait(t, first.ID, "failed")
	r.wait(t, second.ID, "running")
	waitFor(t, "the second DPP_AUTH_INIT", func() bool { return len(r.c.Sent("DPP_AUTH_INIT")) == 2 })
	if _, ok := r.lines(t)[key]; !ok {
		t.Fatal("the first exchange's failure took the second's line")
	}
	r.ev("DPP-CONF-SENT")
	r.ev("AP-STA-CONNECTED", "02:00:00:00:01:00", "keyid="+key)
	r.wait(t, second.ID, "connected")
	if d, _ := r.reg.Get(first.DeviceID); d.KeyID != key || d.State != registry.StateConnected {
		t.Fatalf("after the second scan: %+v", d)
	}
}

// A device named by what its code says about itself (the URI's I: field)
// gets a name fit to show: cut to a name's length.
func TestNameFromTheDevicesCode(t *testing.T) {
	r := newRig(t, time.Second)
	uri := strings.Replace(dpptest.URI(t), "DPP:", "DPP:I:"+strings.Repeat("Cam", 30)+" ;", 1)
	req, err := r.o.Onboard(ctx, OnboardRequest{Method: "qr", URI: uri, By: Householder})
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.reg.Get(req.DeviceID)
	if want := strings.Repeat("Cam", 30)[:devname.Max]; err != nil || d.Name != want {
		t.Fatalf("named %q (%v), want %q", d.Name, err, want)
	}
}
