package dpp_test

import (
	"context"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

func TestIssuePassphrase(t *testing.T) {
	r := newRig(t, time.Minute)
	l, err := r.e.IssuePassphrase(context.Background(), "Old printer", "guest")
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
	if len(r.c.sent("RELOAD_WPA_PSK")) == 0 {
		t.Fatal("hostapd was not asked to reload its PSKs")
	}
	if d, err := r.reg.Get(l.Device.ID); err != nil || d.KeyID != l.Device.KeyID {
		t.Fatalf("registry: %+v, %v", d, err)
	}
	clear, _ := hex.DecodeString(l.Passphrase.Hex())
	if strings.Contains(r.logs.String(), string(clear)) {
		t.Fatal("the passphrase is in the log")
	}
	if _, err := r.e.IssuePassphrase(context.Background(), "x", "nowhere"); !fault.Is(err, fault.Invalid) {
		t.Fatalf("unknown segment: %v", err)
	}
}
