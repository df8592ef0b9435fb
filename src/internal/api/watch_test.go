package api_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/api"
)

// watched is a service that also watches devices.
type watched struct {
	service
	since uint64
}

func (w *watched) Unknown(context.Context) (api.UnknownList, error) {
	return api.UnknownList{Unknown: []api.UnknownDevice{{MAC: "02:00:00:00:00:99", Kind: "shared-password"}}}, nil
}

func (w *watched) Events(_ context.Context, since uint64) (api.EventList, error) {
	w.since = since
	return api.EventList{Events: []api.Event{{Seq: since + 1, Kind: "unknown-device", Message: "m"}}}, nil
}

func (w *watched) Behaviour(context.Context, string) (api.Behaviour, error) {
	return api.Behaviour{}, nil
}
func (w *watched) Learned(context.Context, string) (api.Learned, error) { return api.Learned{}, nil }
func (w *watched) ApproveLearned(context.Context, string) (api.Device, error) {
	return api.Device{}, nil
}
func (w *watched) HandleUnknown(_ context.Context, mac string, r api.HandleRequest) (api.HandledDevice, error) {
	return api.HandledDevice{MAC: mac, Action: r.Action}, nil
}

func TestWatchCalls(t *testing.T) {
	ctx := context.Background()
	plain, _ := start(t, &service{})
	err := plain.Do(ctx, "GET", "/v1/unknown", nil, nil)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 503 || !strings.Contains(ae.Message, "devices are not watched") {
		t.Fatalf("without watching: %v, want 503 saying so", err)
	}

	w := &watched{}
	c, _ := start(t, w)
	var u api.UnknownList
	if err := c.Do(ctx, "GET", "/v1/unknown", nil, &u); err != nil || len(u.Unknown) != 1 {
		t.Fatalf("unknown = %+v, %v", u, err)
	}
	var e api.EventList
	if err := c.Do(ctx, "GET", "/v1/events?since=41", nil, &e); err != nil || w.since != 41 || e.Events[0].Seq != 42 {
		t.Fatalf("events since 41 = %+v, %v (service asked since %d)", e, err, w.since)
	}
	var h api.HandledDevice
	if err := c.Do(ctx, "POST", "/v1/unknown/02:00:00:00:00:99", api.HandleRequest{Action: "block"}, &h); err != nil || h.Action != "block" || h.MAC != "02:00:00:00:00:99" {
		t.Fatalf("handle = %+v, %v", h, err)
	}
	err = c.Do(ctx, "GET", "/v1/events?since=yesterday", nil, nil)
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, `since must be an event number, not "yesterday"`) {
		t.Fatalf("bad since: %v, want 400", err)
	}
}
