package lifecycle

import (
	"context"
	"sort"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/build"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/daemon"
	"github.com/trustjoin/trustjoin/src/internal/dpp"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// Service implements api.Service.
type Service struct {
	cfg    *config.Config
	engine *dpp.Engine
	reg    *registry.Registry
	status func() daemon.Status
	mud    MUD
	brski  func() api.BRSKIStatus // nil while the join proxy is off
}

var _ api.Service = (*Service)(nil)

// New returns the Service for one configuration.
func New(cfg *config.Config, engine *dpp.Engine, reg *registry.Registry, status func() daemon.Status) *Service {
	return &Service{cfg: cfg, engine: engine, reg: reg, status: status}
}

// Status implements api.Service.
func (s *Service) Status(context.Context) (api.Status, error) {
	st := api.Status{Version: build.Version, Radios: []api.Radio{}}
	if s.status != nil {
		ds := s.status()
		st.Ready = ds.Ready
		st.Config = api.ConfigStatus{LoadedAt: ds.LoadedAt, Rejected: ds.Rejected}
		if !ds.RejectedAt.IsZero() {
			t := ds.RejectedAt
			st.Config.RejectedAt = &t
		}
	}
	for _, r := range s.engine.Radios() {
		ar := api.Radio{Ifname: r.Ifname, SSID: r.SSID, Freq: r.Freq, DPP: r.DPP.Supported, DPPVersion: r.DPP.Version}
		switch {
		case !r.Attached:
			ar.Problem = "hostapd does not answer on this access point"
			ar.Fix = "check that Wi-Fi is enabled (wifi up) and that hostapd is running"
		case !r.DPP.Supported:
			ar.Problem = "this hostapd has no Wi-Fi Easy Connect (DPP), so devices cannot be added by QR or PKEX code"
			ar.Fix = "install a full hostapd variant: opkg remove wpad-basic-mbedtls && opkg install wpad-mbedtls (or wpad-openssl); OpenWrt 25.12 and later include DPP"
		}
		st.Radios = append(st.Radios, ar)
	}
	for _, d := range s.reg.List() {
		switch d.State {
		case registry.StateOnboarded, registry.StateConnected, registry.StateDisconnected:
			st.Counters.Onboarded++
		}
		if d.State == registry.StateConnected {
			st.Counters.Connected++
		}
		if d.Quarantined {
			st.Counters.Quarantined++
		}
	}
	return st, nil
}

func (s *Service) device(d registry.Device) api.Device {
	out := api.Device{
		ID: d.ID, Name: d.Name, Segment: d.Segment, State: string(d.State),
		Connected: d.State == registry.StateConnected, MACs: append([]string{}, d.MACs...),
		Warnings: []string{}, Quarantined: d.Quarantined,
		MUD: api.MUDStatus{URL: d.MUDURL, Status: "none"},
	}
	if !d.LastSeen.IsZero() {
		t := d.LastSeen
		out.LastSeen = &t
	}
	if d.KeyID != "" && !d.CredentialCreated.IsZero() {
		out.Credential = &api.Credential{KeyID: d.KeyID, CreatedAt: d.CredentialCreated}
	}
	switch {
	case d.MUDURL != "" && d.MUDStatus != "":
		out.MUD.Status, out.MUD.Detail = d.MUDStatus, d.MUDDetail
	case d.MUDURL != "":
		out.MUD.Status = "pending-approval"
		out.MUD.Detail = "the device named its manufacturer's usage description; it is not enforced yet"
	}
	if d.State == registry.StateNeedsReonboarding {
		out.Warnings = append(out.Warnings, "scan this device's code again to give it a fresh credential")
	}
	return out
}

// Devices implements api.Service.
func (s *Service) Devices(context.Context) ([]api.Device, error) {
	var out []api.Device
	for _, d := range s.reg.List() {
		out = append(out, s.device(d))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Device implements api.Service.
func (s *Service) Device(_ context.Context, id string) (api.Device, error) {
	d, err := s.reg.Get(id)
	if err != nil {
		return api.Device{}, err
	}
	return s.device(d), nil
}

// UpdateDevice implements api.Service.
func (s *Service) UpdateDevice(ctx context.Context, id string, u api.DeviceUpdate) (api.Device, error) {
	d, err := s.reg.Get(id)
	if err != nil {
		return api.Device{}, err
	}
	if u.Name != "" && u.Name != d.Name {
		if other, err := s.reg.Get(u.Name); err == nil && other.ID != d.ID {
			return api.Device{}, fault.New(fault.Conflict, "another device is already called %q", u.Name)
		}
		if d, err = s.reg.Update(d.ID, func(d *registry.Device) error { d.Name = u.Name; return nil }); err != nil {
			return api.Device{}, err
		}
	}
	if u.Segment != "" && u.Segment != d.Segment {
		seg, ok := s.cfg.SegmentByName(u.Segment)
		if !ok {
			return api.Device{}, fault.New(fault.Invalid, "no segment %q", u.Segment)
		}
		if d, err = s.engine.Move(ctx, d.ID, seg.Name, seg.Quarantine); err != nil {
			return api.Device{}, err
		}
	}
	return s.device(d), nil
}

// Quarantine implements api.Service: on moves the device to the quarantine
// segment, off returns it to the default segment.
func (s *Service) Quarantine(ctx context.Context, id string, on bool) (api.Device, error) {
	target := s.cfg.Onboarding.DefaultSegment
	if on {
		target = ""
		for _, seg := range s.cfg.Segments {
			if seg.Quarantine {
				target = seg.Name
			}
		}
		if target == "" {
			return api.Device{}, fault.New(fault.Unavailable, "no quarantine segment is configured")
		}
	}
	d, err := s.engine.Move(ctx, id, target, on)
	if err != nil {
		return api.Device{}, err
	}
	return s.device(d), nil
}

// Rotate implements api.Service.
func (s *Service) Rotate(ctx context.Context, id string) (api.Device, error) {
	d, err := s.engine.Rotate(ctx, id)
	if err != nil {
		return api.Device{}, err
	}
	return s.device(d), nil
}

// Remove implements api.Service.
func (s *Service) Remove(ctx context.Context, id string) error {
	_, err := s.engine.Remove(ctx, id)
	return err
}

func progress(r dpp.Request) api.Progress {
	return api.Progress{ID: r.ID, DeviceID: r.DeviceID, State: r.State, Step: r.Step, Error: r.Error, Hint: r.Hint}
}

// Onboard implements api.Service.
func (s *Service) Onboard(_ context.Context, r api.OnboardRequest) (api.Progress, error) {
	req, err := s.engine.Onboard(dpp.OnboardRequest{
		Method: r.Method, URI: r.URI, Code: r.Code, Identifier: r.Identifier,
		Name: r.Name, Segment: r.Segment, Ifname: r.Ifname,
	})
	if err != nil {
		return api.Progress{}, err
	}
	return progress(req), nil
}

// Progress implements api.Service.
func (s *Service) Progress(_ context.Context, id string) (api.Progress, error) {
	r, err := s.engine.Progress(id)
	if err != nil {
		return api.Progress{}, err
	}
	return progress(r), nil
}

// Cancel implements api.Service.
func (s *Service) Cancel(_ context.Context, id string) error {
	return s.engine.Cancel(id)
}

func preauth(p registry.Preauth) api.PreauthEntry {
	return api.PreauthEntry{ID: p.ID, Name: p.Name, Segment: p.Segment, URIHash: p.KeyHash, AddedBy: p.AddedBy, AddedAt: p.AddedAt}
}

// PreauthList implements api.Service.
func (s *Service) PreauthList(context.Context) ([]api.PreauthEntry, error) {
	var out []api.PreauthEntry
	for _, p := range s.reg.Preauths() {
		out = append(out, preauth(p))
	}
	return out, nil
}

// PreauthAdd implements api.Service.
func (s *Service) PreauthAdd(_ context.Context, e api.PreauthRequest) (api.PreauthEntry, error) {
	added, errs := s.engine.Preauthorize([]dpp.PreauthEntry{{URI: e.URI, Segment: e.Segment, Name: e.Name, AddedBy: e.AddedBy}})
	if err := errs[0]; err != nil {
		return api.PreauthEntry{}, err
	}
	return preauth(added[0]), nil
}

// PreauthBulk implements api.Service.
func (s *Service) PreauthBulk(_ context.Context, es []api.PreauthRequest) (api.BulkResult, error) {
	in := make([]dpp.PreauthEntry, len(es))
	for i, e := range es {
		in[i] = dpp.PreauthEntry{URI: e.URI, Segment: e.Segment, Name: e.Name, AddedBy: e.AddedBy}
	}
	added, errs := s.engine.Preauthorize(in)
	res := api.BulkResult{Added: len(added), Errors: []api.BulkError{}}
	for i := range es {
		if err := errs[i]; err != nil {
			res.Errors = append(res.Errors, api.BulkError{Index: i, Error: err.Error()})
		}
	}
	return res, nil
}

// PreauthRemove implements api.Service.
func (s *Service) PreauthRemove(_ context.Context, id string) error {
	return s.reg.RemovePreauth(id)
}
