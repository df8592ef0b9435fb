package lifecycle

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/daemon"
	"github.com/trustjoin/trustjoin/src/internal/device"
	"github.com/trustjoin/trustjoin/src/internal/dpp"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/firewall"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// newService builds a Service on a real registry, device owner and DPP
// engine with no access point attached: everything that does not need a
// radio works.
func newService(t *testing.T, cfg *config.Config, devs ...registry.Device) (*Service, *registry.Registry) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	reg, err := registry.Open(filepath.Join(dir, "devices.json"), log)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if err := reg.Put(d); err != nil {
			t.Fatal(err)
		}
	}
	engine := dpp.New(dpp.Options{Log: log, StateDir: dir})
	devices := device.New(device.Options{
		Log: log, Registry: reg, Segments: cfg.Segments, DefaultSegment: cfg.Onboarding.DefaultSegment, Radio: engine,
	})
	engine.SetDevices(devices)
	status := func() daemon.Status { return daemon.Status{Ready: true, Rejected: "line 3: bad option"} }
	return New(devices, engine, status), reg
}

func defaults(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// dppURI is a valid bootstrapping URI with a fresh P-256 key.
func dppURI(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt := elliptic.MarshalCompressed(elliptic.P256(), k.X, k.Y)
	der, err := asn1.Marshal(struct {
		Algo struct{ OID, Curve asn1.ObjectIdentifier }
		Key  asn1.BitString
	}{
		Algo: struct{ OID, Curve asn1.ObjectIdentifier }{asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}},
		Key:  asn1.BitString{Bytes: pt, BitLength: len(pt) * 8},
	})
	if err != nil {
		t.Fatal(err)
	}
	return "DPP:V:2;K:" + base64.StdEncoding.EncodeToString(der) + ";;"
}

var (
	seen   = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	camera = registry.Device{ID: "d1", Name: "camera", Segment: "iot", State: registry.StateConnected,
		MACs: []string{"02:00:00:00:01:00"}, KeyID: "k1", CredentialCreated: seen, LastSeen: seen,
		MUDURL: "https://mud.example.com/camera.json"}
	plug = registry.Device{ID: "d2", Name: "plug", Segment: "iot", State: registry.StateNeedsReonboarding, Quarantined: true}
)

func TestStatusCounts(t *testing.T) {
	s, _ := newService(t, defaults(t), camera, plug)
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Ready || st.Config.Rejected != "line 3: bad option" {
		t.Errorf("daemon status not passed through: ready %v, rejected %q", st.Ready, st.Config.Rejected)
	}
	want := api.Counters{Onboarded: 1, Connected: 1, Quarantined: 1, NeedsReonboarding: 1}
	if diff := cmp.Diff(want, st.Counters); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

// MUD violations are what the firewall dropped of devices their MUD
// policy confines, read from its counters; a quarantined device's drops
// are its quarantine's, and a device without a MUD policy has none.
func TestStatusMUDViolations(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	reg, err := registry.Open(filepath.Join(dir, "devices.json"), log)
	if err != nil {
		t.Fatal(err)
	}
	enforced := string(mudpolicy.Enforce)
	for i, d := range []registry.Device{
		{ID: "d1", Name: "camera", MUDURL: "https://mud.example.com/camera.json", MUDStatus: enforced},
		{ID: "d2", Name: "bulb", MUDURL: "https://mud.example.com/bulb.json", MUDStatus: enforced},
		{ID: "d3", Name: "plug"},
		{ID: "d4", Name: "tv", MUDURL: "https://mud.example.com/tv.json", MUDStatus: enforced, Quarantined: true, Segment: "quarantine"},
	} {
		d.State, d.MACs = registry.StateConnected, []string{fmt.Sprintf("02:00:00:00:01:%02x", i)}
		if d.Segment == "" {
			d.Segment = "iot"
		}
		if err := reg.Put(d); err != nil {
			t.Fatal(err)
		}
	}
	cfg := defaults(t)
	fw := dropping{"d1": 5, "d2": 7, "d3": 11, "d4": 13}
	devices := device.New(device.Options{Log: log, Registry: reg, Segments: cfg.Segments, DefaultSegment: cfg.Onboarding.DefaultSegment, Firewall: fw})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { devices.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-devices.Ready()
	s := New(devices, dpp.New(dpp.Options{Log: log, StateDir: dir}), nil)
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Counters.MUDViolations != 12 {
		t.Errorf("MUD violations %d, want 12 (camera's 5 and bulb's 7)", st.Counters.MUDViolations)
	}
}

// dropping is a firewall that holds every device it is given and reports
// the drops of each.
type dropping map[string]uint64

func (dropping) Apply(context.Context, firewall.Device) error { return nil }
func (dropping) Remove(context.Context, string) error         { return nil }
func (f dropping) AllCounters() (map[string]firewall.Counters, error) {
	out := map[string]firewall.Counters{}
	for id, n := range f {
		out[id] = firewall.Counters{DroppedPackets: n, AcceptedPackets: 1}
	}
	return out, nil
}

func TestDeviceView(t *testing.T) {
	s, _ := newService(t, defaults(t), camera, plug)
	ds, err := s.Devices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Name != "camera" || ds[1].Name != "plug" {
		t.Fatalf("devices not listed by name: %+v", ds)
	}
	cam := ds[0]
	if !cam.Connected || cam.LastSeen == nil || !cam.LastSeen.Equal(seen) {
		t.Errorf("camera: connected %v, last seen %v", cam.Connected, cam.LastSeen)
	}
	if cam.Credential == nil || cam.Credential.KeyID != "k1" {
		t.Errorf("camera credential: %+v", cam.Credential)
	}
	if cam.MUD.URL != camera.MUDURL || cam.MUD.Status == "none" || cam.MUD.Status == "enforced" {
		t.Errorf("camera MUD status claims more than is done: %+v", cam.MUD)
	}
	p := ds[1]
	if !p.Quarantined || len(p.Warnings) == 0 || p.Credential != nil || p.MUD.Status != "none" {
		t.Errorf("plug view: %+v", p)
	}
}

func TestErrorsMapToAPI(t *testing.T) {
	cfg := defaults(t)
	noQuarantine := defaults(t)
	var segs []config.Segment
	for _, s := range noQuarantine.Segments {
		if !s.Quarantine {
			segs = append(segs, s)
		}
	}
	noQuarantine.Segments = segs

	tests := []struct {
		name string
		cfg  *config.Config
		call func(s *Service) error
		want fault.Kind
	}{
		{"unknown device", cfg, func(s *Service) error { _, err := s.Device(context.Background(), "nope"); return err }, fault.NotFound},
		{"remove unknown", cfg, func(s *Service) error { return s.Remove(context.Background(), "nope") }, fault.NotFound},
		{"rename onto another", cfg, func(s *Service) error {
			_, err := s.UpdateDevice(context.Background(), "d1", api.DeviceUpdate{Name: "plug"})
			return err
		}, fault.Conflict},
		{"move to unknown segment", cfg, func(s *Service) error {
			_, err := s.UpdateDevice(context.Background(), "d1", api.DeviceUpdate{Segment: "garage"})
			return err
		}, fault.Invalid},
		{"quarantine without segment", noQuarantine, func(s *Service) error {
			_, err := s.Quarantine(context.Background(), "d1", true)
			return err
		}, fault.Unavailable},
		{"preauth bad uri", cfg, func(s *Service) error {
			_, err := s.PreauthAdd(context.Background(), api.PreauthRequest{URI: "DPP:K:notbase64;;"})
			return err
		}, fault.Invalid},
		{"progress unknown", cfg, func(s *Service) error { _, err := s.Progress(context.Background(), "r9"); return err }, fault.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newService(t, tt.cfg, camera, plug)
			err := tt.call(s)
			if !fault.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if strings.HasPrefix(err.Error(), tt.want.String()+": ") {
				t.Errorf("kind repeated in %q", err)
			}
		})
	}
}

func TestRenameAndMoveOffline(t *testing.T) {
	s, reg := newService(t, defaults(t), camera, plug)
	ctx := context.Background()
	d, err := s.UpdateDevice(ctx, "camera", api.DeviceUpdate{Name: "front door", Segment: "guest"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "front door" || d.Segment != "guest" {
		t.Errorf("reply: %+v", d)
	}
	stored, err := reg.Get("d1")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Name != "front door" || stored.Segment != "guest" {
		t.Errorf("registry not updated: %+v", stored)
	}
	q, err := s.Quarantine(ctx, "d1", true)
	if err != nil || !q.Quarantined || q.Segment != "quarantine" {
		t.Fatalf("quarantine: %+v, %v", q, err)
	}
	// Released, it goes back where it was quarantined from.
	r, err := s.Quarantine(ctx, "d1", false)
	if err != nil || r.Quarantined || r.Segment != "guest" {
		t.Fatalf("release: %+v, %v", r, err)
	}
}

func TestPreauthBulkKeepsGoodEntries(t *testing.T) {
	s, _ := newService(t, defaults(t))
	ctx := context.Background()
	res, err := s.PreauthBulk(ctx, []api.PreauthRequest{
		{URI: dppURI(t), Name: "a", Segment: "iot"},
		{URI: "not a uri", Name: "b"},
		{URI: dppURI(t), Name: "c", Segment: "garage"},
		{URI: dppURI(t), Name: "d"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var bad []int
	for _, e := range res.Errors {
		bad = append(bad, e.Index)
		if e.Error == "" {
			t.Errorf("entry %d: empty error", e.Index)
		}
	}
	if res.Added != 2 || !cmp.Equal(bad, []int{1, 2}) {
		t.Fatalf("added %d, bad %v; want 2 and [1 2]", res.Added, bad)
	}
	list, err := s.PreauthList(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	for _, e := range list {
		if strings.Contains(e.URIHash, "DPP:") {
			t.Errorf("the list shows a bootstrapping URI: %+v", e)
		}
	}
	if err := s.PreauthRemove(ctx, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.PreauthRemove(ctx, list[0].ID); !fault.Is(err, fault.NotFound) {
		t.Errorf("second removal: %v, want not found", err)
	}
}

// Pre-authorised devices of the configuration show where they come from
// and whether their device has joined, and are the configuration's to
// remove.
func TestPreauthFromConfig(t *testing.T) {
	uri := dppURI(t)
	u, err := dpp.ParseURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	s, reg := newService(t, defaults(t))
	ctx := context.Background()
	if err := s.devices.SyncPreauths(ctx, []device.PreauthEntry{{URI: uri, Section: "preauth_1", Name: "Camera"}}); err != nil {
		t.Fatal(err)
	}
	list, err := s.PreauthList(ctx)
	if err != nil || len(list) != 1 || list[0].Section != "preauth_1" || list[0].Status != "pending" || list[0].DeviceID != "" || list[0].AddedBy != "config" {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if err := s.PreauthRemove(ctx, list[0].ID); !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), `preauth "preauth_1"`) {
		t.Errorf("removing an entry of the configuration: %v", err)
	}
	if err := reg.Put(registry.Device{ID: "d-cam", Name: "Camera", KeyHash: u.KeyHash, State: registry.StateConnected}); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.PreauthList(ctx); list[0].Status != "onboarded" || list[0].DeviceID != "d-cam" {
		t.Errorf("after the device joined: %+v", list[0])
	}
}
