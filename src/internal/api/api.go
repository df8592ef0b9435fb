package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/httpd"
)

// Service is what the API needs from the daemon. Its errors carry their
// kind as a *fault.Error, which sets the reply's status (invalid 400, not
// found 404, forbidden 403, conflict 409, unavailable 503; anything else
// 500); their text is shown to people, so it must be plain language and
// must never carry a secret.
type Service interface {
	Status(ctx context.Context) (Status, error)
	Devices(ctx context.Context) ([]Device, error)
	Device(ctx context.Context, id string) (Device, error)
	UpdateDevice(ctx context.Context, id string, u DeviceUpdate) (Device, error)
	Quarantine(ctx context.Context, id string, on bool) (Device, error)
	Rotate(ctx context.Context, id string) (Device, error)
	Remove(ctx context.Context, id string) error
	Onboard(ctx context.Context, r OnboardRequest) (Progress, error)
	Progress(ctx context.Context, id string) (Progress, error)
	Cancel(ctx context.Context, id string) error
	PreauthList(ctx context.Context) ([]PreauthEntry, error)
	PreauthAdd(ctx context.Context, e PreauthRequest) (PreauthEntry, error)
	PreauthBulk(ctx context.Context, es []PreauthRequest) (BulkResult, error)
	PreauthRemove(ctx context.Context, id string) error
	SetMUD(ctx context.Context, id string, r MUDRequest) (Device, error)
	// SetMUDByMAC is SetMUD for the device with the MAC address mac, as
	// a DHCP server knows it.
	SetMUDByMAC(ctx context.Context, mac string, r MUDRequest) (Device, error)
	ApproveMUD(ctx context.Context, id string) (Device, error)
	BRSKI(ctx context.Context) (BRSKIStatus, error)
	// Enforced says what is enforced for a device, by id or name.
	Enforced(ctx context.Context, id string) (Enforced, error)
}

// Status is the daemon's state as a whole.
type Status struct {
	Version string       `json:"version"`
	Ready   bool         `json:"ready"`
	Config  ConfigStatus `json:"config"`
	Radios  []Radio      `json:"radios"`
	// Hostapd says what is wrong with the installed hostapd as a whole
	// (the radios say what each access point's hostapd lacks).
	Hostapd  HostapdStatus `json:"hostapd"`
	Counters Counters      `json:"counters"`
}

// HostapdStatus is what the router's package database tells of its
// hostapd: a basic or mini variant (OpenWrt's default wpad-basic-*) has no
// dynamic VLANs, so onboarded devices would not reach their segments.
// Everything is empty when nothing is wrong.
type HostapdStatus struct {
	// Package is the installed package that lacks what trustjoin needs.
	Package string `json:"package"`
	// Problem and Fix, in plain language: what is wrong and what to do.
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
}

// ConfigStatus says which configuration is in force and whether the last
// one offered was refused.
type ConfigStatus struct {
	LoadedAt   time.Time  `json:"loaded_at"`
	Rejected   string     `json:"rejected"`
	RejectedAt *time.Time `json:"rejected_at,omitempty"`
}

// Radio is one access point trustjoin onboards on.
type Radio struct {
	Ifname     string `json:"ifname"`
	SSID       string `json:"ssid"`
	Freq       int    `json:"freq"`
	DPP        bool   `json:"dpp"`
	DPPVersion int    `json:"dpp_version"`
	// Problem and Fix explain, in plain language, what is wrong (e.g. no
	// DPP in this hostapd) and what to install or do.
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
}

// Counters are totals for the ISP and the Status page.
type Counters struct {
	Onboarded          int `json:"onboarded"`
	Connected          int `json:"connected"`
	Quarantined        int `json:"quarantined"`
	OnboardingFailures int `json:"onboarding_failures"`
	// MUDViolations are the packets the firewall dropped from devices
	// their MUD policy confines (not quarantined ones), since each was
	// put in the firewall.
	MUDViolations int `json:"mud_violations"`
	// NeedsReonboarding counts devices waiting to be scanned again (a
	// rotation asked for, a credential expired).
	NeedsReonboarding int `json:"needs_reonboarding"`
	// SecurityEvents counts the security events since the daemon started
	// (an ACS may ask to be told when it changes); UnknownDevices the
	// devices nobody onboarded, as last seen.
	SecurityEvents uint64 `json:"security_events"`
	UnknownDevices int    `json:"unknown_devices"`
}

// Device is one device as people see it. It holds no secret.
type Device struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Segment     string      `json:"segment"`
	State       string      `json:"state"`
	Connected   bool        `json:"connected"`
	LastSeen    *time.Time  `json:"last_seen,omitempty"`
	MACs        []string    `json:"macs"`
	MUD         MUDStatus   `json:"mud"`
	Warnings    []string    `json:"warnings"`
	Credential  *Credential `json:"credential,omitempty"`
	Quarantined bool        `json:"quarantined"`
	// Firewall is what the firewall holds for the device; absent while
	// the firewall does not know it (no firewall, or no MAC address yet).
	Firewall *FirewallStatus `json:"firewall,omitempty"`
	// History is what happened to the device, newest last, in the reply
	// for one device.
	History []HistoryEntry `json:"history,omitempty"`
}

// HistoryEntry is one change to a device, in plain words.
type HistoryEntry struct {
	At   time.Time `json:"at"`
	What string    `json:"what"`
}

// FirewallStatus is what the firewall holds for one device, and what its
// policy judged since it was put in: packets it accepted (those opening
// flows, and bridged traffic; established flows are not looked at again)
// and packets it dropped. DHCP, DNS and neighbour discovery to the router,
// allowed for every device, are not counted.
type FirewallStatus struct {
	// Confined: the device's segment, quarantine and MUD policy are in
	// force as its standing says.
	Confined        bool   `json:"confined"`
	AcceptedPackets uint64 `json:"accepted_packets"`
	AcceptedBytes   uint64 `json:"accepted_bytes"`
	DroppedPackets  uint64 `json:"dropped_packets"`
	DroppedBytes    uint64 `json:"dropped_bytes"`
}

// MUDStatus is where a device's MUD policy stands.
type MUDStatus struct {
	URL string `json:"url"`
	// Status is one of none, fetching, enforced, pending-approval,
	// fetch-failed, rejected.
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// MUDRequest sets a device's MUD URL.
type MUDRequest struct {
	// URL must be https.
	URL string `json:"url"`
	// Source is "user" (the default) or "dhcp": a URL from DHCP, which
	// anyone on the network can forge, may not change the manufacturer of
	// a device that already has one.
	Source string `json:"source"`
}

// Credential describes, without revealing it, a device's credential.
type Credential struct {
	KeyID     string    `json:"key_id"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when it expires (its segment's lifetime); absent for
	// never.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// DeviceUpdate changes a device's name or segment; empty fields stay.
type DeviceUpdate struct {
	Name    string `json:"name"`
	Segment string `json:"segment"`
}

// OnboardRequest asks to onboard one device.
type OnboardRequest struct {
	// Method is "qr" (URI holds the scanned DPP URI) or "pkex" (Code, and
	// optionally Identifier, as printed on the device).
	Method     string `json:"method"`
	URI        string `json:"uri"`
	Code       string `json:"code"`
	Identifier string `json:"identifier"`
	Name       string `json:"name"`
	Segment    string `json:"segment"`
	Ifname     string `json:"ifname"`
	// Via says who the request comes from when it does not come over the
	// socket, whose callers are all the householder: ViaPhone for the
	// phone pages, which may add new devices only.
	Via string `json:"-"`
}

// ViaPhone marks an OnboardRequest from a phone link.
const ViaPhone = "phone"

// Progress is where one onboarding request stands.
type Progress struct {
	ID       string `json:"id"`
	DeviceID string `json:"device_id"`
	// State is queued, running, configured, connected, failed or cancelled.
	State string `json:"state"`
	Step  string `json:"step"`
	Error string `json:"error"`
	Hint  string `json:"hint"`
}

// PreauthRequest pre-authorises a device by its bootstrap URI.
type PreauthRequest struct {
	URI     string `json:"uri"`
	Segment string `json:"segment"`
	Name    string `json:"name"`
	AddedBy string `json:"added_by"`
}

// PreauthEntry is a pre-authorised device; the URI itself is not echoed.
type PreauthEntry struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Segment string    `json:"segment"`
	URIHash string    `json:"uri_hash"`
	AddedBy string    `json:"added_by"`
	AddedAt time.Time `json:"added_at"`
	// Status is pending (waiting for the device to announce itself) or
	// onboarded (DeviceID names the device it became).
	Status   string `json:"status"`
	DeviceID string `json:"device_id,omitempty"`
	// Section is the configuration's preauth section the entry comes
	// from; empty for one added by hand or over ubus.
	Section string `json:"section,omitempty"`
}

// BulkResult reports a bulk pre-authorisation: good entries are kept, bad
// ones are listed by their index in the request.
type BulkResult struct {
	Added  int         `json:"added"`
	Errors []BulkError `json:"errors"`
}

// BulkError is one refused entry of a bulk request.
type BulkError struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// maxBody bounds request bodies; a bulk import of 1000 URIs fits easily.
const maxBody = 1 << 20

// NewHandler returns the API's HTTP handler. The phone calls work when s
// is also a PhoneService.
func NewHandler(log *slog.Logger, s Service) httpd.Handler {
	h := &handler{log: log, s: s}
	mux := httpd.NewServeMux()
	mux.HandleFunc("GET /v1/status", h.wrap(func(r *httpd.Request) (any, error) { return s.Status(r.Context()) }))
	mux.HandleFunc("GET /v1/devices", h.wrap(func(r *httpd.Request) (any, error) {
		ds, err := s.Devices(r.Context())
		if ds == nil {
			ds = []Device{}
		}
		return map[string]any{"devices": ds}, err
	}))
	mux.HandleFunc("GET /v1/devices/{id}", h.wrap(func(r *httpd.Request) (any, error) {
		return s.Device(r.Context(), r.PathValue("id"))
	}))
	mux.HandleFunc("PATCH /v1/devices/{id}", h.wrap(func(r *httpd.Request) (any, error) {
		var u DeviceUpdate
		if err := decode(r, &u); err != nil {
			return nil, err
		}
		if err := CheckName(u.Name); err != nil {
			return nil, err
		}
		return s.UpdateDevice(r.Context(), r.PathValue("id"), u)
	}))
	mux.HandleFunc("POST /v1/devices/{id}/quarantine", h.wrap(func(r *httpd.Request) (any, error) {
		return s.Quarantine(r.Context(), r.PathValue("id"), true)
	}))
	mux.HandleFunc("POST /v1/devices/{id}/release", h.wrap(func(r *httpd.Request) (any, error) {
		return s.Quarantine(r.Context(), r.PathValue("id"), false)
	}))
	mux.HandleFunc("POST /v1/devices/{id}/rotate", h.wrap(func(r *httpd.Request) (any, error) {
		return s.Rotate(r.Context(), r.PathValue("id"))
	}))
	mux.HandleFunc("DELETE /v1/devices/{id}", h.wrap(func(r *httpd.Request) (any, error) {
		id := r.PathValue("id")
		return map[string]string{"removed": id}, s.Remove(r.Context(), id)
	}))
	mux.HandleFunc("POST /v1/devices/{id}/mud", h.wrap(func(r *httpd.Request) (any, error) {
		var m MUDRequest
		if err := decode(r, &m); err != nil {
			return nil, err
		}
		return s.SetMUD(r.Context(), r.PathValue("id"), m)
	}))
	mux.HandleFunc("POST /v1/macs/{mac}/mud", h.wrap(func(r *httpd.Request) (any, error) {
		var m MUDRequest
		if err := decode(r, &m); err != nil {
			return nil, err
		}
		return s.SetMUDByMAC(r.Context(), r.PathValue("mac"), m)
	}))
	mux.HandleFunc("POST /v1/devices/{id}/mud/approve", h.wrap(func(r *httpd.Request) (any, error) {
		return s.ApproveMUD(r.Context(), r.PathValue("id"))
	}))
	mux.HandleFunc("POST /v1/onboard", h.wrapStatus(httpd.StatusAccepted, func(r *httpd.Request) (any, error) {
		var o OnboardRequest
		if err := decode(r, &o); err != nil {
			return nil, err
		}
		if err := o.Check(); err != nil {
			return nil, err
		}
		return s.Onboard(r.Context(), o)
	}))
	mux.HandleFunc("GET /v1/onboard/{id}", h.wrap(func(r *httpd.Request) (any, error) {
		return s.Progress(r.Context(), r.PathValue("id"))
	}))
	mux.HandleFunc("DELETE /v1/onboard/{id}", h.wrap(func(r *httpd.Request) (any, error) {
		id := r.PathValue("id")
		return map[string]string{"cancelled": id}, s.Cancel(r.Context(), id)
	}))
	mux.HandleFunc("GET /v1/preauth", h.wrap(func(r *httpd.Request) (any, error) {
		es, err := s.PreauthList(r.Context())
		if es == nil {
			es = []PreauthEntry{}
		}
		return map[string]any{"entries": es}, err
	}))
	mux.HandleFunc("POST /v1/preauth", h.wrap(func(r *httpd.Request) (any, error) {
		var p PreauthRequest
		if err := decode(r, &p); err != nil {
			return nil, err
		}
		if err := CheckName(p.Name); err != nil {
			return nil, err
		}
		return s.PreauthAdd(r.Context(), p)
	}))
	mux.HandleFunc("POST /v1/preauth/bulk", h.wrap(func(r *httpd.Request) (any, error) {
		var req struct {
			Entries []PreauthRequest `json:"entries"`
		}
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return preauthBulk(r.Context(), s, req.Entries)
	}))
	mux.HandleFunc("DELETE /v1/preauth/{id}", h.wrap(func(r *httpd.Request) (any, error) {
		id := r.PathValue("id")
		return map[string]string{"removed": id}, s.PreauthRemove(r.Context(), id)
	}))
	h.phoneRoutes(mux)
	h.watchRoutes(mux)
	h.enforcedRoutes(mux)
	mux.HandleFunc("GET /v1/brski", h.wrap(func(r *httpd.Request) (any, error) { return s.BRSKI(r.Context()) }))
	mux.HandleFunc("/", func(w httpd.ResponseWriter, r *httpd.Request) {
		writeJSON(w, httpd.StatusNotFound, map[string]string{"error": fmt.Sprintf("no such API call: %s %s", r.Method, r.URL.Path)})
	})
	return mux
}

// preauthBulk refuses entries with a bad name, as the service refuses
// entries with a bad URI: listed by their index, the others kept.
func preauthBulk(ctx context.Context, s Service, es []PreauthRequest) (BulkResult, error) {
	var good []PreauthRequest
	var index []int // good[i] is es[index[i]]
	var bad []BulkError
	for i, e := range es {
		if err := CheckName(e.Name); err != nil {
			bad = append(bad, BulkError{Index: i, Error: err.Error()})
			continue
		}
		good = append(good, e)
		index = append(index, i)
	}
	if len(bad) == 0 {
		return s.PreauthBulk(ctx, es)
	}
	res := BulkResult{Errors: []BulkError{}}
	if len(good) > 0 {
		var err error
		if res, err = s.PreauthBulk(ctx, good); err != nil {
			return BulkResult{}, err
		}
		for i := range res.Errors {
			res.Errors[i].Index = index[res.Errors[i].Index]
		}
	}
	res.Errors = append(res.Errors, bad...)
	sort.Slice(res.Errors, func(i, j int) bool { return res.Errors[i].Index < res.Errors[j].Index })
	return res, nil
}

type handler struct {
	log *slog.Logger
	s   Service
}

func (h *handler) wrap(fn func(*httpd.Request) (any, error)) httpd.HandlerFunc {
	return h.wrapStatus(httpd.StatusOK, fn)
}

func (h *handler) wrapStatus(ok int, fn func(*httpd.Request) (any, error)) httpd.HandlerFunc {
	return func(w httpd.ResponseWriter, r *httpd.Request) {
		v, err := fn(r)
		if err != nil {
			status := statusOf(err)
			msg := err.Error()
			if k := fault.KindOf(err); k != fault.Internal {
				msg = k.String() + ": " + msg
			}
			if status == httpd.StatusInternalServerError {
				h.log.Error("API call failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeJSON(w, status, map[string]string{"error": msg})
			return
		}
		writeJSON(w, ok, v)
	}
}

func statusOf(err error) int {
	switch fault.KindOf(err) {
	case fault.NotFound:
		return httpd.StatusNotFound
	case fault.Invalid:
		return httpd.StatusBadRequest
	case fault.Forbidden:
		return httpd.StatusForbidden
	case fault.Conflict:
		return httpd.StatusConflict
	case fault.Unavailable:
		return httpd.StatusServiceUnavailable
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return httpd.StatusGatewayTimeout
	}
	return httpd.StatusInternalServerError
}

// decode reads a JSON body strictly: unknown fields are refused so a typo
// in a script is not silently ignored.
func decode(r *httpd.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fault.New(fault.Invalid, "the request body is not valid JSON for this call: %v", err)
	}
	return nil
}

func writeJSON(w httpd.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
