package lifecycle

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/alert"
	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/authorize"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/registry"
	"github.com/trustjoin/trustjoin/src/internal/watch"
)

// watched adds a Watch, with a real hook program, to a Service.
func watched(t *testing.T, s *Service, hook string) *alert.Book {
	t.Helper()
	cfg := defaults(t)
	for i := range cfg.Segments {
		if cfg.Segments[i].Name == "guest" {
			cfg.Segments[i].Lifetime = 24 * time.Hour
		}
	}
	h := &authorize.Hook{Path: filepath.Join(t.TempDir(), "authorize"), Owner: os.Getuid(), OnFailure: authorize.Deny}
	if err := os.WriteFile(h.Path, []byte(hook), 0o700); err != nil {
		t.Fatal(err)
	}
	book := alert.New(alert.Options{})
	w := watch.New(watch.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Config: cfg,
		Owner: ownerOf{s}, Book: book, Hook: h})
	s.SetWatch(w, "trusted")
	return book
}

// ownerOf gives the Watch the Service's devices; nothing here changes them.
type ownerOf struct{ s *Service }

func (o ownerOf) Devices() []registry.Device                       { return o.s.devices.Devices() }
func (ownerOf) Quarantine(context.Context, string, string) error   { return nil }
func (ownerOf) Move(context.Context, string, string, string) error { return nil }
func (ownerOf) Expire(context.Context, string, string) error       { return nil }
func (ownerOf) Remove(context.Context, string, string) error       { return nil }

func TestOnboardAsksTheHook(t *testing.T) {
	s, reg := newService(t, defaults(t))
	book := watched(t, s, "#!/bin/sh\ncase \"$(cat)\" in *'\"name\":\"rogue\"'*) echo '{\"decision\":\"deny\",\"reason\":\"not on the list\"}';; *) echo '{\"decision\":\"allow\"}';; esac\n")
	_, err := s.Onboard(context.Background(), api.OnboardRequest{Method: "qr", URI: dppURI(t), Name: "rogue"})
	if !fault.Is(err, fault.Forbidden) || !strings.Contains(err.Error(), "not on the list") {
		t.Fatalf("onboarding a device the hook denies: %v, want forbidden with the hook's reason", err)
	}
	if n := len(reg.All()); n != 0 {
		t.Errorf("a refused device left %d entries in the registry", n)
	}
	es := book.Since(0)
	if len(es) != 1 || es[0].Kind != alert.HookDenied {
		t.Errorf("events = %+v, want one hook denial", es)
	}
	// Counted for TR-181's Stats.SecurityEvents.
	if st, err := s.Status(context.Background()); err != nil || st.Counters.SecurityEvents != 1 {
		t.Errorf("status counts %d security events (%v), want 1", st.Counters.SecurityEvents, err)
	}
	// Allowed, it goes on to the radio (none here).
	_, err = s.Onboard(context.Background(), api.OnboardRequest{Method: "qr", URI: dppURI(t), Name: "lamp"})
	if fault.Is(err, fault.Forbidden) {
		t.Fatalf("a device the hook allows was refused: %v", err)
	}
}

func TestDeviceShowsExpiry(t *testing.T) {
	guest := camera
	guest.Segment, guest.MUDURL = "guest", ""
	s, _ := newService(t, defaults(t), guest)
	watched(t, s, "#!/bin/sh\necho '{\"decision\":\"allow\"}'\n")
	d, err := s.Device(context.Background(), guest.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Credential == nil || d.Credential.ExpiresAt == nil || !d.Credential.ExpiresAt.Equal(seen.Add(24*time.Hour)) {
		t.Fatalf("credential = %+v, want expiring a day after %s", d.Credential, seen)
	}
}
