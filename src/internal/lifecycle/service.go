package lifecycle

import (
	"context"
	"math"
	"sort"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/build"
	"github.com/trustjoin/trustjoin/src/internal/daemon"
	"github.com/trustjoin/trustjoin/src/internal/device"
	"github.com/trustjoin/trustjoin/src/internal/dpp"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
	"github.com/trustjoin/trustjoin/src/internal/registry"
	"github.com/trustjoin/trustjoin/src/internal/watch"
)

// Service implements api.Service.
type Service struct {
	devices *device.Owner
	engine  *dpp.Engine
	status  func() daemon.Status
	brski   func() api.BRSKIStatus // nil while the join proxy is off
	fw      Firewall               // nil while the firewall is off
	pkgs    hostapdPackages
	// watch looks after devices once onboarded; nil when trustjoin is
	// disabled.
	watch          *watch.Watch
	defaultSegment string
	// failures counts the onboardings that failed since the daemon
	// started; nil reports none.
	failures func() uint64
}

var _ api.Service = (*Service)(nil)

// New returns the Service for one configuration: devices owns the
// devices, engine runs the onboardings and knows the radios.
func New(devices *device.Owner, engine *dpp.Engine, status func() daemon.Status) *Service {
	return &Service{devices: devices, engine: engine, status: status}
}

// SetOnboardingFailures sets what counts the failed onboardings.
func (s *Service) SetOnboardingFailures(n func() uint64) { s.failures = n }

// by is who asks through the local API: the householder, unless the phone
// pages pass a phone's request on.
func by(via string) device.Actor {
	if via == api.ViaPhone {
		return device.Phone
	}
	return device.Householder
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
	// The installed hostapd, when it is a basic variant: its fix names the
	// package that is there, for the radios too.
	pkg := s.pkgs.status()
	for _, r := range s.engine.Radios() {
		ar := api.Radio{Ifname: r.Ifname, SSID: r.SSID, Freq: r.Freq, DPP: r.DPP.Supported, DPPVersion: r.DPP.Version}
		switch {
		case !r.Attached:
			ar.Problem = "hostapd does not answer on this access point"
			ar.Fix = "check that Wi-Fi is enabled (wifi up) and that hostapd is running"
		case !r.DPP.Supported:
			ar.Problem = "this hostapd has no Wi-Fi Easy Connect (DPP), so devices cannot be added by QR or PKEX code"
			ar.Fix = "install a full hostapd variant: opkg remove wpad-basic-mbedtls && opkg install wpad-mbedtls (or wpad-openssl); OpenWrt 25.12 and later include DPP"
			if pkg.Fix != "" {
				ar.Fix = pkg.Fix
			}
		case r.NoPSK:
			ar.Problem, ar.Fix = dpp.NoPSKProblem(r.Freq), dpp.NoPSKFix(r.Freq)
		}
		st.Radios = append(st.Radios, ar)
	}
	st.Hostapd = pkg
	in := s.devices.InForceAll()
	var violations uint64
	for _, d := range s.devices.Devices() {
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
		if d.State == registry.StateNeedsReonboarding {
			st.Counters.NeedsReonboarding++
		}
		// What the firewall dropped of a device its MUD policy confines.
		if c := in[d.ID].Counters; c != nil && !d.Quarantined && d.MUDStatus == string(mudpolicy.Enforce) {
			violations += c.DroppedPackets
		}
	}
	// TR-181 reads it as an unsignedInt; an int is 32 bits on some routers.
	st.Counters.MUDViolations = int(min(violations, math.MaxInt32))
	if s.failures != nil {
		st.Counters.OnboardingFailures = int(min(s.failures(), math.MaxInt32))
	}
	if s.watch != nil {
		_, counts := s.watch.Events(^uint64(0))
		st.Counters.SecurityEvents = counts.Total
		us, _ := s.watch.Unknown()
		st.Counters.UnknownDevices = len(us)
	}
	return st, nil
}

// device is a device as people see it, with what enforces its standing
// (what the firewall holds for it and its counters).
func (s *Service) device(d registry.Device, f device.InForce) api.Device {
	out := api.Device{
		ID: d.ID, Name: d.Name, Segment: d.Segment, State: string(d.State),
		Connected: d.State == registry.StateConnected, MACs: append([]string{}, d.MACs...),
		Warnings: []string{}, Quarantined: d.Quarantined,
		MUD: api.MUDStatus{URL: d.MUDURL},
	}
	out.MUD.Status, out.MUD.Detail = s.devices.MUD(d)
	if !d.LastSeen.IsZero() {
		t := d.LastSeen
		out.LastSeen = &t
	}
	if d.KeyID != "" && !d.CredentialCreated.IsZero() {
		out.Credential = &api.Credential{KeyID: d.KeyID, CreatedAt: d.CredentialCreated, ExpiresAt: s.expires(d)}
	}
	if d.State == registry.StateNeedsReonboarding {
		out.Warnings = append(out.Warnings, "scan this device's code again to give it a fresh credential")
	}
	if d.Onboarding != nil && d.KeyID != "" {
		out.Warnings = append(out.Warnings, "a new credential is on its way to this device; the one it has works until it connects with the new one")
	}
	if f.Problem != "" {
		out.Warnings = append(out.Warnings, "not in force yet, trustjoin keeps trying: "+f.Problem)
	}
	if f.Confined || f.Counters != nil {
		out.Firewall = &api.FirewallStatus{Confined: f.Confined}
		if c := f.Counters; c != nil {
			out.Firewall.AcceptedPackets, out.Firewall.AcceptedBytes = c.AcceptedPackets, c.AcceptedBytes
			out.Firewall.DroppedPackets, out.Firewall.DroppedBytes = c.DroppedPackets, c.DroppedBytes
		}
	}
	return out
}

// Devices implements api.Service.
func (s *Service) Devices(context.Context) ([]api.Device, error) {
	var out []api.Device
	// One read of the firewall's counters for the whole list.
	in := s.devices.InForceAll()
	for _, d := range s.devices.Devices() {
		out = append(out, s.device(d, in[d.ID]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Device implements api.Service.
func (s *Service) Device(_ context.Context, id string) (api.Device, error) {
	d, err := s.devices.Device(id)
	if err != nil {
		return api.Device{}, err
	}
	out := s.device(d, s.devices.InForce(d.ID))
	// One device's view says what happened to it.
	for _, h := range d.History {
		out.History = append(out.History, api.HistoryEntry{At: h.At, What: h.What})
	}
	return out, nil
}

// UpdateDevice implements api.Service.
func (s *Service) UpdateDevice(ctx context.Context, id string, u api.DeviceUpdate) (api.Device, error) {
	d, err := s.devices.Device(id)
	if err != nil {
		return api.Device{}, err
	}
	if u.Name != "" && u.Name != d.Name {
		if d, err = s.devices.Rename(ctx, d.ID, u.Name, device.Householder); err != nil {
			return api.Device{}, err
		}
	}
	if u.Segment != "" && u.Segment != d.Segment {
		if d, err = s.devices.Move(ctx, d.ID, u.Segment, device.Householder); err != nil {
			return api.Device{}, err
		}
	}
	return s.device(d, s.devices.InForce(d.ID)), nil
}

// Quarantine implements api.Service: on moves the device to the quarantine
// segment, off returns it to the default segment.
func (s *Service) Quarantine(ctx context.Context, id string, on bool) (api.Device, error) {
	quarantine := s.devices.Release
	if on {
		quarantine = s.devices.Quarantine
	}
	d, err := quarantine(ctx, id, device.Householder)
	if err != nil {
		return api.Device{}, err
	}
	return s.device(d, s.devices.InForce(d.ID)), nil
}

// Rotate implements api.Service.
func (s *Service) Rotate(ctx context.Context, id string) (api.Device, error) {
	d, err := s.devices.Rotate(ctx, id, device.Householder)
	if err != nil {
		return api.Device{}, err
	}
	return s.device(d, s.devices.InForce(d.ID)), nil
}

// Remove implements api.Service.
func (s *Service) Remove(ctx context.Context, id string) error {
	_, err := s.devices.Remove(ctx, id, device.Householder)
	return err
}

func progress(r dpp.Request) api.Progress {
	return api.Progress{ID: r.ID, DeviceID: r.DeviceID, State: r.State, Step: r.Step, Error: r.Error, Hint: r.Hint}
}

// Onboard implements api.Service.
func (s *Service) Onboard(ctx context.Context, r api.OnboardRequest) (api.Progress, error) {
	if err := s.authorized(ctx, &r); err != nil {
		return api.Progress{}, err
	}
	req, err := s.devices.Onboard(ctx, device.OnboardRequest{
		Method: r.Method, URI: r.URI, Code: r.Code, Identifier: r.Identifier,
		Name: r.Name, Segment: r.Segment, Ifname: r.Ifname, By: by(r.Via),
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
	return api.PreauthEntry{ID: p.ID, Name: p.Name, Segment: p.Segment, URIHash: p.KeyHash, AddedBy: p.AddedBy, AddedAt: p.AddedAt,
		Status: "pending", Section: p.Section}
}

// PreauthList implements api.Service.
func (s *Service) PreauthList(context.Context) ([]api.PreauthEntry, error) {
	var out []api.PreauthEntry
	// Onboarded as the engine counts it (it arms only the others).
	onboarded := map[string]string{}
	for _, d := range s.devices.Devices() {
		if d.KeyHash != "" && (d.State == registry.StateConnected || d.State == registry.StateOnboarded || d.State == registry.StateDisconnected) {
			onboarded[d.KeyHash] = d.ID
		}
	}
	for _, p := range s.devices.Preauths() {
		e := preauth(p)
		if id, ok := onboarded[p.KeyHash]; ok {
			e.Status, e.DeviceID = "onboarded", id
		}
		out = append(out, e)
	}
	return out, nil
}

// PreauthAdd implements api.Service.
func (s *Service) PreauthAdd(ctx context.Context, e api.PreauthRequest) (api.PreauthEntry, error) {
	added, errs := s.devices.Preauthorize(ctx, []device.PreauthEntry{{URI: e.URI, Segment: e.Segment, Name: e.Name, AddedBy: e.AddedBy}})
	if err := errs[0]; err != nil {
		return api.PreauthEntry{}, err
	}
	return preauth(added[0]), nil
}

// PreauthBulk implements api.Service.
func (s *Service) PreauthBulk(ctx context.Context, es []api.PreauthRequest) (api.BulkResult, error) {
	in := make([]device.PreauthEntry, len(es))
	for i, e := range es {
		in[i] = device.PreauthEntry{URI: e.URI, Segment: e.Segment, Name: e.Name, AddedBy: e.AddedBy}
	}
	added, errs := s.devices.Preauthorize(ctx, in)
	res := api.BulkResult{Added: len(added), Errors: []api.BulkError{}}
	for i := range es {
		if err := errs[i]; err != nil {
			res.Errors = append(res.Errors, api.BulkError{Index: i, Error: err.Error()})
		}
	}
	return res, nil
}

// PreauthRemove implements api.Service.
func (s *Service) PreauthRemove(ctx context.Context, id string) error {
	return s.devices.RemovePreauth(ctx, id)
}
