package api

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/alert"
	"github.com/trustjoin/trustjoin/src/internal/behaviour"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/httpd"
	"github.com/trustjoin/trustjoin/src/internal/inventory"
	"github.com/trustjoin/trustjoin/src/internal/mudlearn"
)

// What watching devices after onboarding shows (package watch and the
// packages it ties together); the types are theirs.
type (
	// UnknownDevice is a device on the network the household did not
	// onboard, or one of its devices on a segment not its own.
	UnknownDevice = inventory.Unknown
	// Event is a security event.
	Event = alert.Event
	// EventCounts count the security events since the daemon started.
	EventCounts = alert.Counts
	// Behaviour is what a device did lately, as its firewall saw it.
	Behaviour = behaviour.History
	// LearnedProfile is what a device was seen using while learned.
	LearnedProfile = mudlearn.Profile
)

// UnknownList is the answer to GET /v1/unknown.
type UnknownList struct {
	Unknown []UnknownDevice `json:"unknown"`
	// Handled are the devices the household blocked or confined as
	// guests, seen now or not (a blocked station cannot connect).
	Handled []HandledDevice `json:"handled"`
	// Off says the search for unknown devices is turned off.
	Off bool `json:"off,omitempty"`
	// Error says why the last search failed, if it did (the list is then
	// the last one that worked).
	Error string `json:"error,omitempty"`
}

// HandledDevice is an unknown device the household acted on.
type HandledDevice struct {
	MAC string `json:"mac"`
	// Action is block (DHCP and DNS only, refused by the access points)
	// or guest (the internet only).
	Action string    `json:"action"`
	At     time.Time `json:"at"`
}

// HandleRequest acts on an unknown device: Action block, guest, or ""
// to undo.
type HandleRequest struct {
	Action string `json:"action"`
}

// EventList is the answer to GET /v1/events.
type EventList struct {
	Events []Event     `json:"events"`
	Counts EventCounts `json:"counts"`
}

// Learned is a device's learned profile and the MUD file it proposes.
type Learned struct {
	Profile LearnedProfile `json:"profile"`
	// Learning says the learning period is not over yet.
	Learning bool `json:"learning"`
	// Describe says what the profile allows, in plain words.
	Describe []string `json:"describe"`
	// MUD is the proposed MUD file (RFC 8520).
	MUD json.RawMessage `json:"mud"`
}

// WatchService is what a Service also implements when devices are watched
// after onboarding. Without it these calls answer 503.
type WatchService interface {
	Unknown(ctx context.Context) (UnknownList, error)
	Events(ctx context.Context, since uint64) (EventList, error)
	Behaviour(ctx context.Context, id string) (Behaviour, error)
	Learned(ctx context.Context, id string) (Learned, error)
	// ApproveLearned enforces a device's learned profile as its MUD file.
	ApproveLearned(ctx context.Context, id string) (Device, error)
	// HandleUnknown blocks an unknown device, confines it as a guest, or
	// undoes that.
	HandleUnknown(ctx context.Context, mac string, r HandleRequest) (HandledDevice, error)
}

var errNoWatch = fault.New(fault.Unavailable, "devices are not watched (trustjoin is disabled: main.enabled '0')")

func (h *handler) watchRoutes(mux *httpd.ServeMux) {
	ws, ok := h.s.(WatchService)
	route := func(pattern string, fn func(r *httpd.Request) (any, error)) {
		mux.HandleFunc(pattern, h.wrap(func(r *httpd.Request) (any, error) {
			if !ok {
				return nil, errNoWatch
			}
			return fn(r)
		}))
	}
	route("GET /v1/unknown", func(r *httpd.Request) (any, error) { return ws.Unknown(r.Context()) })
	route("GET /v1/events", func(r *httpd.Request) (any, error) {
		var since uint64
		if s := r.URL.Query().Get("since"); s != "" {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, fault.New(fault.Invalid, "since must be an event number, not %q", s)
			}
			since = n
		}
		return ws.Events(r.Context(), since)
	})
	route("POST /v1/unknown/{mac}", func(r *httpd.Request) (any, error) {
		var req HandleRequest
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return ws.HandleUnknown(r.Context(), r.PathValue("mac"), req)
	})
	route("GET /v1/devices/{id}/behaviour", func(r *httpd.Request) (any, error) { return ws.Behaviour(r.Context(), r.PathValue("id")) })
	route("GET /v1/devices/{id}/learned", func(r *httpd.Request) (any, error) { return ws.Learned(r.Context(), r.PathValue("id")) })
	route("POST /v1/devices/{id}/learned/approve", func(r *httpd.Request) (any, error) {
		return ws.ApproveLearned(r.Context(), r.PathValue("id"))
	})
}
