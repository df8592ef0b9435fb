package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/fault"
)

// service is a Service whose answers the tests set; fine for the API's own
// edge cases (the real one is exercised in the lab and black-box tests).
type service struct {
	api.Service
	devices map[string]api.Device
	got     api.OnboardRequest
}

func (s *service) Devices(context.Context) ([]api.Device, error) {
	var out []api.Device
	for _, d := range s.devices {
		out = append(out, d)
	}
	return out, nil
}

func (s *service) Device(_ context.Context, id string) (api.Device, error) {
	d, ok := s.devices[id]
	if !ok {
		return api.Device{}, fault.New(fault.NotFound, "no device %q", id)
	}
	return d, nil
}

func (s *service) Onboard(_ context.Context, r api.OnboardRequest) (api.Progress, error) {
	s.got = r
	if !strings.HasPrefix(r.URI, "DPP:") {
		return api.Progress{}, fault.New(fault.Invalid, "the QR code is not a Wi-Fi Easy Connect code")
	}
	return api.Progress{ID: "o-1", DeviceID: "d-1", State: "queued"}, nil
}

func (s *service) Remove(context.Context, string) error {
	return fault.New(fault.Unavailable, "hostapd is restarting")
}

func (s *service) Status(context.Context) (api.Status, error) {
	return api.Status{}, errors.New("boom")
}

func start(t *testing.T, s api.Service) (*api.Client, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "api.sock")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := api.NewSocketServer(log, path, api.NewHandler(log, s))
	ctx, cancel := context.WithCancel(context.Background())
	errC := make(chan error, 1)
	go func() { errC <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errC; err != nil {
			t.Errorf("Run: %v", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket left behind after stop: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("API server not ready")
	}
	return api.NewClient(path), path
}

func TestSocketIsRootOnly(t *testing.T) {
	_, path := start(t, &service{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Fatalf("API socket mode %v: group or others may connect", perm)
	}
}

func TestCalls(t *testing.T) {
	s := &service{devices: map[string]api.Device{"d-1": {ID: "d-1", Name: "Camera", State: "connected"}}}
	c, _ := start(t, s)
	ctx := context.Background()

	var d api.Device
	if err := c.Do(ctx, "GET", "/v1/devices/d-1", nil, &d); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.devices["d-1"], d); diff != "" {
		t.Fatalf("device (-want +got):\n%s", diff)
	}

	tests := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"not found", "GET", "/v1/devices/d-9", nil, 404, `not found: no device "d-9"`},
		{"invalid", "POST", "/v1/onboard", map[string]string{"method": "qr", "uri": "WIFI:x"}, 400, "not a Wi-Fi Easy Connect code"},
		{"unknown field", "POST", "/v1/onboard", map[string]string{"metod": "qr"}, 400, `unknown field "metod"`},
		{"unavailable", "DELETE", "/v1/devices/d-1", nil, 503, "hostapd is restarting"},
		{"internal", "GET", "/v1/status", nil, 500, "boom"},
		{"no such call", "GET", "/v2/whatever", nil, 404, "no such API call: GET /v2/whatever"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Do(ctx, tt.method, tt.path, tt.body, nil)
			var ae *api.Error
			if !errors.As(err, &ae) {
				t.Fatalf("want an API error, got %v", err)
			}
			if ae.Status != tt.status || !strings.Contains(ae.Message, tt.msg) {
				t.Fatalf("got %d %q, want %d containing %q", ae.Status, ae.Message, tt.status, tt.msg)
			}
		})
	}

	var p api.Progress
	req := api.OnboardRequest{Method: "qr", URI: "DPP:K:abc;;", Name: "Cam"}
	if err := c.Do(ctx, "POST", "/v1/onboard", req, &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != "o-1" || s.got != req {
		t.Fatalf("onboard: progress %+v, service got %+v", p, s.got)
	}
}

func TestClientDaemonDown(t *testing.T) {
	c := api.NewClient(filepath.Join(t.TempDir(), "nothing.sock"))
	err := c.Do(context.Background(), "GET", "/v1/status", nil, nil)
	if !errors.Is(err, api.ErrDaemonDown) {
		t.Fatalf("want ErrDaemonDown, got %v", err)
	}
}
