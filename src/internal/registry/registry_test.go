package registry_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

var log = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestPersistAndRecover(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devices.json")
	r, err := registry.Open(path, log)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := r.Put(registry.Device{ID: "d-1", Name: "Camera", Segment: "iot", State: registry.StateOnboarded, KeyID: "d-1", CredentialCreated: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update("Camera", func(d *registry.Device) error {
		d.State = registry.StateConnected
		d.MACs = append(d.MACs, "02:00:00:00:01:00")
		d.Record(now, "connected")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("registry mode %v", fi.Mode().Perm())
	}

	// A fresh process finds the device again.
	r2, err := registry.Open(path, log)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r2.Get("d-1")
	if err != nil || d.State != registry.StateConnected || d.MACs[0] != "02:00:00:00:01:00" || !d.CredentialCreated.Equal(now) {
		t.Fatalf("after reopen: %+v %v", d, err)
	}

	// A power cut that left garbage: the previous copy is used.
	os.WriteFile(path, []byte(`{"devices": [{"id": "d-1", "na`), 0o600)
	r3, err := registry.Open(path, log)
	if err != nil {
		t.Fatalf("corrupt file with a good previous copy: %v", err)
	}
	if _, err := r3.Get("d-1"); err != nil {
		t.Fatalf("device lost after corruption: %v", err)
	}
	// Both gone bad: refuse rather than start empty.
	os.WriteFile(path+".prev", []byte("garbage"), 0o600)
	if _, err := registry.Open(path, log); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("want a corruption error, got %v", err)
	}
}

func TestNamesAndLookups(t *testing.T) {
	r, _ := registry.Open(filepath.Join(t.TempDir(), "d.json"), log)
	r.Put(registry.Device{ID: "d-1", Name: "Plug", KeyHash: "aa", KeyID: "d-1", State: registry.StateConnected})
	if got := r.UniqueName("Plug"); got != "Plug 2" {
		t.Fatalf("UniqueName = %q", got)
	}
	if d, ok := r.ByKeyHash("aa"); !ok || d.ID != "d-1" {
		t.Fatal("ByKeyHash")
	}
	if _, err := r.Get("nope"); !fault.Is(err, fault.NotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	r.Update("d-1", func(d *registry.Device) error { d.State = registry.StateRemoved; return nil })
	if len(r.List()) != 0 {
		t.Fatal("removed device listed")
	}
	if _, ok := r.ByKeyID("d-1"); ok {
		t.Fatal("removed device found by key id")
	}
	d := registry.Device{}
	for i := 0; i < 50; i++ {
		d.Record(time.Now(), "x")
	}
	if len(d.History) != 20 {
		t.Fatalf("history not bounded: %d", len(d.History))
	}
}

func TestPreauths(t *testing.T) {
	r, _ := registry.Open(filepath.Join(t.TempDir(), "d.json"), log)
	r.AddPreauths([]registry.Preauth{{ID: "p-1", KeyHash: "k1", Segment: "iot"}, {ID: "p-2", KeyHash: "k2"}})
	r.AddPreauths([]registry.Preauth{{ID: "p-3", KeyHash: "k1", Segment: "guest"}})
	ps := r.Preauths()
	if len(ps) != 2 || ps[0].Segment != "guest" {
		t.Fatalf("preauths %+v", ps)
	}
	if err := r.RemovePreauth("p-2"); err != nil || len(r.Preauths()) != 1 {
		t.Fatalf("remove: %v", err)
	}
}

// A registry written before the MUD fields existed still loads.
func TestLoadsOlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devices.json")
	os.WriteFile(path, []byte(`{"version":1,"devices":[{"id":"d","name":"Old","segment":"iot","state":"connected","mud_url":"https://mfg.example/x"}],"preauthorized":[]}`), 0o600)
	r, err := registry.Open(path, log)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Get("Old")
	if err != nil || d.MUDURL != "https://mfg.example/x" || d.MUDStatus != "" || d.MUDApproved != "" {
		t.Fatalf("%+v %v", d, err)
	}
}

// A failed save (flash full, file system gone read-only) leaves the
// registry in memory as it is on flash: nothing half-applied.
func TestFailedSaveChangesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devices.json")
	r, err := registry.Open(path, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Put(registry.Device{ID: "d-1", Name: "Camera", Segment: "iot", State: registry.StateConnected}); err != nil {
		t.Fatal(err)
	}
	// A non-empty directory where the file goes: the atomic rename fails.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "blocker"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := r.Put(registry.Device{ID: "d-2", Name: "Plug", Segment: "iot"}); err == nil {
		t.Fatal("Put succeeded although the registry could not be saved")
	}
	if err := r.PutMany([]registry.Device{{ID: "d-1", Name: "Renamed"}, {ID: "d-3", Name: "Lamp"}}); err == nil {
		t.Fatal("PutMany succeeded although the registry could not be saved")
	}
	if _, err := r.Update("d-1", func(d *registry.Device) error { d.Segment = "guest"; return nil }); err == nil {
		t.Fatal("Update succeeded although the registry could not be saved")
	}
	if err := r.AddPreauths([]registry.Preauth{{ID: "p-1", KeyHash: "h1"}}); err == nil {
		t.Fatal("AddPreauths succeeded although the registry could not be saved")
	}
	if n := len(r.Preauths()); n != 0 {
		t.Errorf("%d pre-authorised devices after a failed save, want 0", n)
	}
	got := r.List()
	if len(got) != 1 || got[0].Name != "Camera" || got[0].Segment != "iot" {
		t.Fatalf("registry changed by failed saves: %+v", got)
	}
	for _, id := range []string{"d-2", "d-3", "Plug", "Renamed"} {
		if _, err := r.Get(id); !fault.Is(err, fault.NotFound) {
			t.Errorf("Get(%q) after failed save: %v, want not found", id, err)
		}
	}
}
