package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/authorize"
	"github.com/trustjoin/trustjoin/src/internal/device"
	"github.com/trustjoin/trustjoin/src/internal/dpp"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/mudlearn"
	"github.com/trustjoin/trustjoin/src/internal/registry"
	"github.com/trustjoin/trustjoin/src/internal/watch"
)

var _ api.WatchService = (*Service)(nil)

// SetWatch has the Service answer the watch calls, show each credential's
// expiry and ask the authorisation hook before a device is onboarded into
// a segment (defaultSegment when the request names none).
func (s *Service) SetWatch(w *watch.Watch, defaultSegment string) {
	s.watch, s.defaultSegment = w, defaultSegment
}

var errNoWatch = fault.New(fault.Unavailable, "devices are not watched (trustjoin is disabled: main.enabled '0')")

// authorized asks the hook about a device about to be onboarded: a deny
// refuses it before anything is written or sent, a segment moves it.
func (s *Service) authorized(ctx context.Context, r *api.OnboardRequest) error {
	if s.watch == nil {
		return nil
	}
	d := authorize.Device{Name: r.Name, Segment: r.Segment, Via: r.Method}
	if d.Segment == "" {
		d.Segment = s.defaultSegment
	}
	if r.Method == "qr" {
		u, err := dpp.ParseURI(r.URI)
		if err != nil {
			return fault.New(fault.Invalid, "%v", err)
		}
		d.DPPKeyHash = u.KeyHash
		if d.Name == "" {
			d.Name = u.Info
		}
		for _, old := range s.devices.Devices() {
			if old.KeyHash != u.KeyHash || old.State == registry.StateRemoved {
				continue
			}
			hd := watch.HookDevice(old)
			hd.Segment, hd.Via = d.Segment, d.Via
			if d.Name != "" {
				hd.Name = d.Name
			}
			d = hd
			break
		}
	}
	seg, err := s.watch.Admit(ctx, d)
	if err != nil {
		return err
	}
	if seg != d.Segment {
		r.Segment = seg
	}
	return nil
}

// expires is when a device's credential expires; nil for never.
func (s *Service) expires(d registry.Device) *time.Time {
	if s.watch == nil {
		return nil
	}
	t := s.watch.Expires(d)
	if t.IsZero() {
		return nil
	}
	return &t
}

// Unknown implements api.WatchService.
func (s *Service) Unknown(context.Context) (api.UnknownList, error) {
	if s.watch == nil {
		return api.UnknownList{}, errNoWatch
	}
	out := api.UnknownList{Unknown: []api.UnknownDevice{}, Handled: []api.HandledDevice{}, Off: s.watch.UnknownOff()}
	us, err := s.watch.Unknown()
	if err != nil {
		out.Error = err.Error()
	}
	out.Unknown = append(out.Unknown, us...)
	hs, err := s.watch.HandledList()
	if err != nil && out.Error == "" {
		out.Error = err.Error()
	}
	for _, h := range hs {
		out.Handled = append(out.Handled, api.HandledDevice{MAC: h.MAC, Action: h.Action, At: h.At})
	}
	return out, nil
}

// Events implements api.WatchService.
func (s *Service) Events(_ context.Context, since uint64) (api.EventList, error) {
	if s.watch == nil {
		return api.EventList{}, errNoWatch
	}
	es, counts := s.watch.Events(since)
	return api.EventList{Events: append([]api.Event{}, es...), Counts: counts}, nil
}

// Behaviour implements api.WatchService.
func (s *Service) Behaviour(_ context.Context, id string) (api.Behaviour, error) {
	if s.watch == nil {
		return api.Behaviour{}, errNoWatch
	}
	d, err := s.devices.Device(id)
	if err != nil {
		return api.Behaviour{}, err
	}
	return s.watch.Recorder().History(d.ID), nil
}

// Learned implements api.WatchService.
func (s *Service) Learned(_ context.Context, id string) (api.Learned, error) {
	if s.watch == nil {
		return api.Learned{}, errNoWatch
	}
	d, err := s.devices.Device(id)
	if err != nil {
		return api.Learned{}, err
	}
	p, ok := s.watch.Learned(d.ID)
	if !ok {
		return api.Learned{}, fault.New(fault.NotFound, "%s was not learned: it has a MUD file, or its segment learns no device (option learn)", d.Name)
	}
	now := s.watch.Now()
	b, err := mudlearn.Propose(p, now)
	if err != nil {
		return api.Learned{}, fmt.Errorf("failed to write %s's learned profile as a MUD file: %w", d.Name, err)
	}
	return api.Learned{Profile: p, Learning: p.Learning(now), Describe: p.Describe(), MUD: json.RawMessage(b)}, nil
}

// ApproveLearned implements api.WatchService: the learned profile becomes
// the device's MUD file, approved as it stands, and is enforced as a
// maker's file is.
func (s *Service) ApproveLearned(ctx context.Context, id string) (api.Device, error) {
	if s.watch == nil {
		return api.Device{}, errNoWatch
	}
	d, err := s.devices.Device(id)
	if err != nil {
		return api.Device{}, err
	}
	u, digest, err := s.watch.KeepLearned(d.ID, d.Name)
	if err != nil {
		return api.Device{}, err
	}
	if d, err = s.devices.SetApprovedMUD(ctx, d.ID, u, digest, device.Householder); err != nil {
		return api.Device{}, err
	}
	return s.device(d, s.devices.InForce(d.ID)), nil
}

// HandleUnknown implements api.WatchService.
func (s *Service) HandleUnknown(ctx context.Context, mac string, r api.HandleRequest) (api.HandledDevice, error) {
	if s.watch == nil {
		return api.HandledDevice{}, errNoWatch
	}
	if hw, err := net.ParseMAC(mac); err != nil || len(hw) != 6 {
		return api.HandledDevice{}, fault.New(fault.Invalid, "%q is not a MAC address", mac)
	}
	switch r.Action {
	case watch.Block, watch.Guest, "":
	default:
		return api.HandledDevice{}, fault.New(fault.Invalid, "action must be block, guest or empty (to undo), not %q", r.Action)
	}
	h, err := s.watch.Handle(ctx, mac, r.Action)
	if err != nil {
		return api.HandledDevice{}, err
	}
	return api.HandledDevice{MAC: h.MAC, Action: h.Action, At: h.At}, nil
}
