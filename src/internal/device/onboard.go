package device

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/devname"
	"github.com/trustjoin/trustjoin/src/internal/dpp"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// OnboardRequest asks to onboard one device.
type OnboardRequest struct {
	// Method is "qr" (URI holds the scanned DPP URI) or "pkex" (Code, and
	// optionally Identifier, as printed on the device).
	Method, URI, Code, Identifier string
	// Name, Segment and Ifname (the access point) may be empty.
	Name, Segment, Ifname string
	By                    Actor
}

// Onboard gives a device a credential of its own over Wi-Fi Easy Connect.
// A device scanned before (the same bootstrapping key) keeps its identity,
// and its name unless given another. What scanning a device the household
// already has means depends on who asks:
//
//   - the householder gives it a fresh credential, into the segment asked
//     for; its old credential keeps working until the device connects
//     with the new one, so a failed exchange takes nothing away;
//   - a phone link may add new devices only, and is refused;
//   - a quarantined device stays quarantined (and so does one removed
//     while quarantined): only the householder's release lifts it.
//
// The exchange runs in the background; the request returned follows it.
func (o *Owner) Onboard(ctx context.Context, r OnboardRequest) (dpp.Request, error) {
	segment := r.Segment
	if segment == "" {
		segment = o.o.DefaultSegment
	}
	if _, ok := o.segment(segment); !ok {
		return dpp.Request{}, fault.New(fault.Invalid, "no segment %q", segment)
	}
	var u *dpp.URI
	switch r.Method {
	case "qr":
		var err error
		if u, err = dpp.ParseURI(r.URI); err != nil {
			return dpp.Request{}, fault.New(fault.Invalid, "%v", err)
		}
	case "pkex":
		if err := dpp.CheckPKEX(r.Code, r.Identifier); err != nil {
			return dpp.Request{}, err
		}
	default:
		return dpp.Request{}, fault.New(fault.Invalid, "method must be qr or pkex")
	}
	if o.o.Radio == nil {
		return dpp.Request{}, fault.New(fault.Unavailable, "no access point is configured (is hostapd running?)")
	}
	var old registry.Device
	if u != nil {
		old, _ = o.o.Registry.ByKeyHash(u.KeyHash)
	}
	// Refused before the radio is asked, so a refusal leaves no trace.
	if err := o.allowed(Change{Kind: Onboarding, By: r.By, Before: old, After: old}); err != nil {
		return dpp.Request{}, err
	}
	id := old.ID
	if id == "" {
		id = credential.RandomID("d-")
	}
	// A key id of its own for the new credential, beside the one it has
	// and one still on its way (scanned twice).
	var taken []string
	if known(old) {
		taken = append(taken, old.KeyID)
		if old.Onboarding != nil {
			taken = append(taken, old.Onboarding.KeyID)
		}
	}
	keyID := credential.KeyIDFor(id, taken...)
	target := segment
	if q, ok := o.quarantine(); ok && old.Quarantined {
		target = q
	}
	fill := func(ifname string) edit {
		return func(d *registry.Device) (string, error) {
			if !known(*d) {
				// New, or back after its removal.
				name := r.Name
				if name == "" && u != nil {
					// What the device says about itself, made fit to show.
					name = devname.FromDevice(u.Info)
				}
				if name == "" {
					name = "Device"
				}
				if d.ID == "" {
					d.Name = o.o.Registry.UniqueName(name)
				} else if r.Name != "" {
					d.Name = r.Name
				}
				d.ID, d.Segment, d.State, d.KeyID = id, target, registry.StateOnboarding, ""
				if u != nil {
					d.KeyHash = u.KeyHash
				}
			} else if r.Name != "" {
				d.Name = r.Name
			}
			d.Ifname = ifname
			d.Onboarding = &registry.Onboarding{KeyID: keyID, Segment: target, Since: o.o.Now()}
			return "onboarding by " + r.Method + " on " + ifname, nil
		}
	}
	return o.o.Radio.Onboard(ctx, dpp.OnboardRequest{
		Method: r.Method, URI: u, Code: r.Code, Identifier: r.Identifier, Ifname: r.Ifname,
		DeviceID: id, KeyID: keyID, VLAN: o.vlan(target),
		Begin: func(ifname string) error {
			var err error
			if known(old) {
				_, err = o.change(ctx, Onboarding, r.By, old.ID, fill(ifname), later)
			} else {
				_, err = o.create(ctx, Onboarding, r.By, old, fill(ifname), later)
			}
			return err
		},
	})
}

// Configured implements dpp.Devices.
func (o *Owner) Configured(deviceID string) {
	o.event(Configured, deviceID, func(d *registry.Device) (string, error) {
		if d.Onboarding != nil {
			d.Onboarding.Configured = true
		}
		if d.State == registry.StateOnboarding {
			d.State = registry.StateOnboarded
		}
		return "received its own credential", nil
	})
}

// Connected implements dpp.Devices. A device connecting with the
// credential on its way to it is onboarded: the new credential replaces
// the old, whose line goes, and it joins the segment it was onboarded
// into.
func (o *Owner) Connected(ifname, keyID, mac string) {
	d, ok := o.o.Registry.ByKeyID(keyID)
	if !ok {
		return
	}
	kind := Connected
	if d.Onboarding != nil && d.Onboarding.KeyID == keyID {
		kind = Onboarded
	}
	at, id := o.o.Now(), d.ID
	_, err := o.change(context.Background(), kind, Self, id, func(d *registry.Device) (string, error) {
		switch {
		case d.Onboarding != nil && d.Onboarding.KeyID == keyID:
			d.KeyID, d.Segment, d.CredentialCreated = keyID, d.Onboarding.Segment, d.Onboarding.Since
			d.Onboarding = nil
		case d.KeyID != keyID:
			// A credential it no longer has, whose line is on its way out.
			return "", errNoChange
		case d.State == registry.StateNeedsReonboarding:
			// Connecting does not hide that a rescan is due.
			return "", errNoChange
		}
		d.State, d.LastSeen, d.Ifname = registry.StateConnected, at, ifname
		if mac != "" && !slices.Contains(d.MACs, mac) {
			d.MACs = append(d.MACs, mac)
		}
		return "connected with its own credential as " + mac, nil
	}, later)
	if err != nil {
		o.log.Error("failed to record a connection", "device", id, "err", err)
		return
	}
	o.log.Info("device connected with its own credential", "device", id, "mac", mac, "iface", ifname)
}

// Disconnected implements dpp.Devices.
func (o *Owner) Disconnected(ifname, mac string) {
	for _, d := range o.o.Registry.List() {
		if !slices.Contains(d.MACs, mac) || d.State != registry.StateConnected {
			continue
		}
		at := o.o.Now()
		o.event(Disconnected, d.ID, func(d *registry.Device) (string, error) {
			if d.State != registry.StateConnected {
				return "", errNoChange
			}
			d.State, d.LastSeen = registry.StateDisconnected, at
			return "disconnected", nil
		})
	}
}

// MUDURL implements dpp.Devices.
func (o *Owner) MUDURL(deviceID, url string) {
	if _, err := o.SetMUDURL(context.Background(), deviceID, url, FromDPP); err != nil {
		o.log.Warn("MUD URL from Wi-Fi Easy Connect not recorded", "device", deviceID, "url", url, "err", err)
	}
}

// Failed implements dpp.Devices. The credential that was on its way goes,
// unless the device received it and may still connect with it; a
// credential the device had before keeps working either way. A device that
// never had one leaves the household again, or, if it was seen before,
// needs scanning again.
func (o *Owner) Failed(deviceID, keyID string, configured bool, why string) {
	o.event(OnboardingFailed, deviceID, func(d *registry.Device) (string, error) {
		switch {
		case d.Onboarding == nil || d.Onboarding.KeyID != keyID:
			return "", errNoChange
		case configured:
			return "received its credential but has not connected with it yet", nil
		}
		d.Onboarding = nil
		switch {
		case d.KeyID != "":
			return "onboarding failed (" + why + "); its credential from before still works", nil
		case len(d.MACs) == 0 && d.LastSeen.IsZero():
			d.State = registry.StateRemoved
		default:
			d.State = registry.StateNeedsReonboarding
		}
		return "onboarding failed", nil
	})
}

// event records what the radio reported about a device.
func (o *Owner) event(kind Kind, id string, fn edit) {
	by := Self
	if kind == OnboardingFailed {
		by = System
	}
	_, err := o.change(context.Background(), kind, by, id, fn, later)
	switch {
	case fault.Is(err, fault.NotFound):
		// Removed meanwhile: nothing of it is left to record.
		o.log.Debug("event for a device that is gone", "device", id, "event", string(kind))
	case err != nil:
		o.log.Error("failed to record a device's "+string(kind), "device", id, "err", err)
	}
}

// PreauthEntry is one device to pre-authorise.
type PreauthEntry struct {
	URI, Segment, Name, AddedBy string
	// Section is the configuration's preauth section it comes from.
	Section string
}

// Preauthorize records devices by their bootstrapping URIs so they onboard
// with no touch when they announce themselves (chirp). Every URI is
// checked; bad ones are reported by index and the good ones kept.
func (o *Owner) Preauthorize(ctx context.Context, entries []PreauthEntry) (added []registry.Preauth, errs map[int]error) {
	errs = map[int]error{}
	at := o.o.Now()
	for i, en := range entries {
		u, err := dpp.ParseURI(en.URI)
		if err != nil {
			errs[i] = fault.New(fault.Invalid, "%v", err)
			continue
		}
		seg := en.Segment
		if seg == "" {
			seg = o.o.DefaultSegment
		}
		if _, ok := o.segment(seg); !ok {
			errs[i] = fault.New(fault.Invalid, "no segment %q", seg)
			continue
		}
		if seg, err = o.authorize(ctx, Authorization{Name: en.Name, Segment: seg, KeyHash: u.KeyHash, Via: "chirp"}); err != nil {
			errs[i] = err
			continue
		}
		by := en.AddedBy
		if by == "" {
			by = "user"
		}
		added = append(added, registry.Preauth{
			ID: credential.RandomID("p-"), Name: en.Name, URI: u.Raw, KeyHash: u.KeyHash,
			Segment: seg, AddedBy: by, AddedAt: at,
		})
	}
	if len(added) == 0 {
		return nil, errs
	}
	if err := o.o.Registry.AddPreauths(added); err != nil {
		for i := range entries {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return nil, errs
	}
	if o.o.Radio != nil {
		o.o.Radio.Arm(ctx)
	}
	return added, errs
}

// authorize asks Options.Authorize, if set, about a device about to be
// given a credential, and answers its segment.
func (o *Owner) authorize(ctx context.Context, a Authorization) (string, error) {
	if o.o.Authorize == nil {
		return a.Segment, nil
	}
	seg, err := o.o.Authorize(ctx, a)
	if err != nil {
		return "", err
	}
	if _, ok := o.segment(seg); !ok {
		return "", fault.New(fault.Invalid, "no segment %q", seg)
	}
	return seg, nil
}

// RemovePreauth deletes a pre-authorisation by id or key hash. An entry of
// the configuration is the configuration's to remove: the next load would
// bring it back.
func (o *Owner) RemovePreauth(_ context.Context, id string) error {
	for _, p := range o.o.Registry.Preauths() {
		if (p.ID == id || p.KeyHash == id) && p.Section != "" {
			return fault.New(fault.Invalid, "pre-authorised in the configuration (preauth %q): remove it there", p.Section)
		}
	}
	return o.o.Registry.RemovePreauth(id)
}

// SyncPreauths makes the registry hold the pre-authorisations the
// configuration lists (entries with a Section) and no other from it: new
// and changed ones are added, ones whose section is gone removed; those
// added by hand or over ubus stay. Every entry is checked first: a bad one
// is an error naming its section, and nothing changes. In sync, nothing is
// written.
func (o *Owner) SyncPreauths(ctx context.Context, entries []PreauthEntry) error {
	desired := map[string]registry.Preauth{}
	bySection := map[string]string{}
	var order []string
	for _, en := range entries {
		u, err := dpp.ParseURI(en.URI)
		if err != nil {
			return fmt.Errorf("preauth %q, option 'uri': %v", en.Section, err)
		}
		seg := en.Segment
		if seg == "" {
			seg = o.o.DefaultSegment
		}
		if _, ok := o.segment(seg); !ok {
			return fmt.Errorf("preauth %q: no segment %q", en.Section, seg)
		}
		if other, ok := bySection[u.KeyHash]; ok {
			return fmt.Errorf("preauth %q: the same device (public key) as preauth %q", en.Section, other)
		}
		bySection[u.KeyHash] = en.Section
		desired[en.Section] = registry.Preauth{Name: en.Name, URI: u.Raw, KeyHash: u.KeyHash, Segment: seg, AddedBy: "config", Section: en.Section}
		order = append(order, en.Section)
	}
	current := map[string]registry.Preauth{}
	for _, p := range o.o.Registry.Preauths() {
		if p.Section != "" {
			current[p.Section] = p
		}
	}
	now := o.o.Now()
	var add []registry.Preauth
	refused := map[string]bool{}
	for _, sec := range order {
		d := desired[sec]
		if c, ok := current[sec]; ok && c.URI == d.URI && cmp.Or(c.Asked, c.Segment) == d.Segment && c.Name == d.Name {
			continue
		}
		seg, err := o.authorize(ctx, Authorization{Name: d.Name, Segment: d.Segment, KeyHash: d.KeyHash, Via: "chirp"})
		if err != nil {
			// Refused, it is not listened for (any more); the rest of
			// the configuration stands.
			o.log.Warn("a pre-authorised device of the configuration refused", "section", sec, "err", err)
			refused[sec] = true
			continue
		}
		if seg != d.Segment {
			d.Asked = d.Segment
		}
		d.Segment = seg
		d.ID, d.AddedAt = credential.RandomID("p-"), now
		add = append(add, d)
	}
	// Gone, now another device, or refused by the hook: one with the same
	// key is replaced.
	stale := func(p registry.Preauth) bool {
		d, ok := desired[p.Section]
		return p.Section != "" && (!ok || d.KeyHash != p.KeyHash || refused[p.Section])
	}
	dropping := false
	for _, p := range current {
		dropping = dropping || stale(p)
	}
	if len(add) == 0 && !dropping {
		return nil
	}
	if err := o.o.Registry.ReplacePreauths(stale, add); err != nil {
		return err
	}
	o.log.Info("pre-authorised devices of the configuration applied", "added", len(add), "entries", len(order))
	if len(add) > 0 && o.o.Radio != nil {
		o.o.Radio.Arm(ctx)
	}
	return nil
}

// Chirps implements dpp.Devices: every pre-authorised device not yet
// onboarded gets a record of its own (pending, in its pre-authorised
// segment, with a line of its own), all with one save however many an ISP
// pushed.
func (o *Owner) Chirps() ([]dpp.Chirp, error) {
	var (
		bases []registry.Device
		ps    []registry.Preauth
	)
	for _, p := range o.o.Registry.Preauths() {
		d, seen := o.o.Registry.ByKeyHash(p.KeyHash)
		switch {
		case seen && (d.State == registry.StateConnected || d.State == registry.StateOnboarded || d.State == registry.StateDisconnected):
			continue
		case !seen || d.State == registry.StateRemoved:
			d = registry.Device{}
		}
		bases, ps = append(bases, d), append(ps, p)
	}
	if len(bases) == 0 {
		return nil, nil
	}
	var chirps []dpp.Chirp
	_, err := o.changeMany(context.Background(), PreAuthorised, Householder, bases, func(i int, d *registry.Device) (string, error) {
		p := ps[i]
		what := ""
		if d.ID == "" {
			d.ID, d.Name, d.KeyHash = credential.RandomID("d-"), p.Name, p.KeyHash
			if d.Name == "" {
				// Unique without a registry-wide search per device, which
				// would make bulk imports quadratic.
				d.Name = "Pre-authorised " + d.ID
			}
			what = "pre-authorised by " + p.AddedBy
		}
		if d.KeyID == "" {
			d.KeyID = d.ID
		}
		unchanged := d.State == registry.StatePending && d.Segment == p.Segment
		d.Segment, d.State = p.Segment, registry.StatePending
		o.settle(d)
		chirps = append(chirps, dpp.Chirp{DeviceID: d.ID, KeyID: d.KeyID, VLAN: o.vlan(d.Segment), URI: p.URI})
		if unchanged && what == "" {
			return "", errNoChange
		}
		return what, nil
	}, never)
	if err != nil {
		return nil, err
	}
	return chirps, nil
}

// Legacy is what a device without Wi-Fi Easy Connect needs to join: the
// network's name and a passphrase of its own.
type Legacy struct {
	Device     registry.Device
	SSID       string
	Passphrase credential.Passphrase
}

// IssuePassphrase is the less safe path for a device without DPP: it gets
// its own passphrase (its own line in the PSK file, so its own key id and
// segment, and it can be removed alone), which the householder types or
// scans into it. The passphrase is returned this once and kept nowhere but
// the PSK file. It adds a new device; it never changes one the household
// has.
func (o *Owner) IssuePassphrase(ctx context.Context, name, segment string, by Actor) (Legacy, error) {
	if segment == "" {
		segment = o.o.DefaultSegment
	}
	if _, ok := o.segment(segment); !ok {
		return Legacy{}, fault.New(fault.Invalid, "no segment %q", segment)
	}
	if o.o.Radio == nil {
		return Legacy{}, fault.New(fault.Unavailable, "no access point is up (is hostapd running?)")
	}
	segment, err := o.authorize(ctx, Authorization{Name: name, Segment: segment, Via: "legacy"})
	if err != nil {
		return Legacy{}, err
	}
	if name == "" {
		name = "Device"
	}
	id := credential.RandomID("d-")
	iss, err := o.o.Radio.IssuePassphrase(ctx, id, o.vlan(segment))
	if err != nil {
		return Legacy{}, err
	}
	d, err := o.create(ctx, Onboarded, by, registry.Device{}, func(d *registry.Device) (string, error) {
		d.ID, d.Name, d.Segment, d.Ifname, d.KeyID = id, o.o.Registry.UniqueName(name), segment, iss.Ifname, id
		d.State, d.CredentialCreated = registry.StateOnboarded, o.o.Now()
		return "given its own passphrase (legacy path, no Wi-Fi Easy Connect) on " + iss.Ifname, nil
	}, later)
	if err != nil {
		// Its line must not outlive the failure.
		o.withdraw(ctx, id)
		return Legacy{}, fmt.Errorf("failed to record the device: %w", err)
	}
	o.log.Info("device given its own passphrase (legacy path)", "device", d.ID, "iface", iss.Ifname, "segment", segment)
	return Legacy{Device: d, SSID: iss.SSID, Passphrase: iss.Passphrase}, nil
}
