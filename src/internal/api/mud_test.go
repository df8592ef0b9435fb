package api_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/fault"
)

type mudService struct {
	api.Service
	got []string
}

func (s *mudService) SetMUD(_ context.Context, id string, r api.MUDRequest) (api.Device, error) {
	s.got = append(s.got, "set "+id+" "+r.URL+" "+r.Source)
	if id != "cam" {
		return api.Device{}, fault.New(fault.NotFound, "no device %q", id)
	}
	return api.Device{ID: id, MUD: api.MUDStatus{URL: r.URL, Status: "fetching"}}, nil
}

func (s *mudService) SetMUDByMAC(_ context.Context, mac string, r api.MUDRequest) (api.Device, error) {
	s.got = append(s.got, "set by MAC "+mac+" "+r.URL+" "+r.Source)
	return api.Device{ID: "cam", MUD: api.MUDStatus{URL: r.URL, Status: "fetching"}}, nil
}

func (s *mudService) ApproveMUD(_ context.Context, id string) (api.Device, error) {
	s.got = append(s.got, "approve "+id)
	return api.Device{}, fault.New(fault.Conflict, "nothing to approve")
}

func TestMUDCalls(t *testing.T) {
	s := &mudService{}
	c, _ := start(t, s)
	ctx := context.Background()
	var d api.Device
	if err := c.Do(ctx, "POST", "/v1/devices/cam/mud", api.MUDRequest{URL: "https://mfg.example/cam.json"}, &d); err != nil || d.MUD.Status != "fetching" {
		t.Fatalf("set: %+v %v", d, err)
	}
	var ae *api.Error
	// Strict bodies: a typo is refused, not ignored.
	if err := c.Do(ctx, "POST", "/v1/devices/cam/mud", map[string]string{"uri": "https://x"}, &d); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Errorf("unknown field: %v", err)
	}
	if err := c.Do(ctx, "POST", "/v1/devices/nope/mud", api.MUDRequest{URL: "https://x"}, &d); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("unknown device: %v", err)
	}
	if err := c.Do(ctx, "POST", "/v1/devices/cam/mud/approve", nil, &d); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Errorf("approve: %v", err)
	}
	// The DHCP hook: one call, keyed by the MAC address.
	if err := c.Do(ctx, "POST", "/v1/macs/02:00:00:00:00:07/mud", api.MUDRequest{URL: "https://mfg.example/cam.json", Source: "dhcp"}, &d); err != nil || d.ID != "cam" {
		t.Errorf("set by MAC: %+v %v", d, err)
	}
	want := []string{"set cam https://mfg.example/cam.json ", "set nope https://x ", "approve cam", "set by MAC 02:00:00:00:00:07 https://mfg.example/cam.json dhcp"}
	if diff := cmp.Diff(want, s.got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
