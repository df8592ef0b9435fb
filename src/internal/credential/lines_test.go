package credential_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/credential"
)

func TestKeyIDs(t *testing.T) {
	first := credential.KeyIDFor("d-1a2b3c4d")
	second := credential.KeyIDFor("d-1a2b3c4d", first)
	third := credential.KeyIDFor("d-1a2b3c4d", second)
	// A second scan while the first is still on its way.
	fourth := credential.KeyIDFor("d-1a2b3c4d", second, third)
	if first != "d-1a2b3c4d" || !strings.HasPrefix(second, "d-1a2b3c4d_") || third != first || fourth == second || fourth == third {
		t.Fatalf("key ids %q, %q, %q, %q", first, second, third, fourth)
	}
	for _, k := range []string{first, second} {
		if credential.DeviceOf(k) != "d-1a2b3c4d" {
			t.Errorf("DeviceOf(%q) = %q", k, credential.DeviceOf(k))
		}
	}
}

// Keep touches only the lines of the devices it is given: it deletes
// those not wanted, moves VLANs keeping the secret, and leaves others'
// lines, hand-written ones and a VLAN it does not know as they are.
func TestKeep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wlan0.psk")
	os.WriteFile(path, []byte("# by hand\n02:00:00:00:00:09 handwritten-pass\n"), 0o600)
	f := credential.Open(path)
	p := map[string]credential.Passphrase{}
	var es []credential.Entry
	for _, k := range []string{"d-1", "d-1_ab12", "d-2", "d-3", "d-4"} {
		p[k], _ = credential.NewPassphrase()
		es = append(es, credential.Entry{KeyID: k, VLAN: 20, Pass: p[k]})
	}
	if err := f.SetMany(es); err != nil {
		t.Fatal(err)
	}
	kept, err := f.Keep(map[string]credential.Lines{
		"d-1": {"d-1_ab12": 30}, // re-onboarded into VLAN 30: the old line goes
		"d-2": {},               // removed
		"d-4": {"d-4": -1},      // a segment no longer configured
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(credential.Kept{Withdrawn: []string{"d-1", "d-2"}, Moved: []string{"d-1_ab12"}}, kept); diff != "" {
		t.Fatalf("kept (-want +got):\n%s", diff)
	}
	got, _ := f.Passphrases()
	if len(got) != 3 || !got["d-1_ab12"].Equal(p["d-1_ab12"]) || !got["d-3"].Equal(p["d-3"]) {
		t.Fatalf("lines after Keep: %v", got)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{"# by hand\n02:00:00:00:00:09 handwritten-pass\n", "keyid=d-1_ab12 vlanid=30 ", "keyid=d-3 vlanid=20 ", "keyid=d-4 vlanid=20 "} {
		if !strings.Contains(string(b), want) {
			t.Errorf("file lacks %q:\n%s", want, b)
		}
	}
	// Nothing to change: no write.
	fi, _ := os.Stat(path)
	if kept, err := f.Keep(map[string]credential.Lines{"d-3": {"d-3": 20}}); err != nil || len(kept.Withdrawn)+len(kept.Moved) != 0 {
		t.Fatalf("second Keep: %+v %v", kept, err)
	}
	if fi2, _ := os.Stat(path); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Error("the file was written although nothing changed")
	}
}

type ctrl struct {
	mu   sync.Mutex
	cmds []string
}

func (c *ctrl) Command(_ context.Context, cmd string) (string, error) {
	c.mu.Lock()
	c.cmds = append(c.cmds, cmd)
	c.mu.Unlock()
	return "OK", nil
}

// Sync disconnects a device only when the credential it connects with
// goes or changes VLAN; two access points sharing a file both reload it.
func TestSyncDisconnectsOnlyWhoMust(t *testing.T) {
	f := credential.Open(filepath.Join(t.TempDir(), "wlan0.psk"))
	pass, _ := credential.NewPassphrase()
	f.SetMany([]credential.Entry{{KeyID: "d-1", VLAN: 20, Pass: pass}, {KeyID: "d-1_ab12", VLAN: 20, Pass: pass}, {KeyID: "d-2", VLAN: 20, Pass: pass}, {KeyID: "d-3", VLAN: 20, Pass: pass}})
	a, b := &ctrl{}, &ctrl{}
	aps := []credential.AccessPoint{{Ifname: "wlan0", File: f, Ctrl: a}, {Ifname: "wlan1", File: f, Ctrl: b}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	err := credential.Sync(context.Background(), log, aps, map[string]credential.Want{
		// Connected with its new credential: the old line goes quietly.
		"d-1": {Lines: credential.Lines{"d-1_ab12": 20}, Current: "d-1_ab12", Stations: []string{"02:00:00:00:00:01"}},
		// Removed.
		"d-2": {Lines: credential.Lines{}, Stations: []string{"02:00:00:00:00:02"}},
		// Moved.
		"d-3": {Lines: credential.Lines{"d-3": 30}, Current: "d-3", Stations: []string{"02:00:00:00:00:03"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"RELOAD_WPA_PSK", "DEAUTHENTICATE 02:00:00:00:00:02", "DEAUTHENTICATE 02:00:00:00:00:03", "PMKSA_FLUSH"}
	for _, c := range []*ctrl{a, b} {
		if diff := cmp.Diff(want, c.cmds); diff != "" {
			t.Errorf("hostapd commands (-want +got):\n%s", diff)
		}
	}
}

// A file's access points know its contents once their hostapd re-read it,
// and no longer once it changes (what Attach reloads on reconnecting).
func TestSyncRecordsWhatHostapdRead(t *testing.T) {
	f := credential.Open(filepath.Join(t.TempDir(), "wlan0.psk"))
	pass, _ := credential.NewPassphrase()
	f.SetMany([]credential.Entry{{KeyID: "d-1", VLAN: 20, Pass: pass}})
	aps := []credential.AccessPoint{{Ifname: "wlan0", File: f, Ctrl: &ctrl{}}, {Ifname: "wlan1", File: f, Ctrl: nil}}
	if f.Known("wlan0") {
		t.Fatal("known before any hostapd was told")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := credential.Sync(context.Background(), log, aps, map[string]credential.Want{"d-1": {}}); err != nil {
		t.Fatal(err)
	}
	if !f.Known("wlan0") {
		t.Error("wlan0's hostapd re-read the file, yet it is not known there")
	}
	if f.Known("wlan1") {
		t.Error("wlan1's hostapd was never told, yet the file is known there")
	}
	f.Set("d-2", 20, pass)
	if f.Known("wlan0") {
		t.Error("the file changed after wlan0's hostapd read it, yet it is known there")
	}
}
