package device

import (
	"context"
	"fmt"

	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// Rename gives a device another name, unique among the devices.
func (o *Owner) Rename(ctx context.Context, id, name string, by Actor) (registry.Device, error) {
	d, err := o.o.Registry.Get(id)
	if err != nil {
		return registry.Device{}, err
	}
	if other, err := o.o.Registry.Get(name); err == nil && other.ID != d.ID {
		return registry.Device{}, fault.New(fault.Conflict, "another device is already called %q", name)
	}
	return o.change(ctx, Renamed, by, d.ID, func(d *registry.Device) (string, error) {
		if d.Name == name {
			return "", nil
		}
		old := d.Name
		d.Name = name
		return fmt.Sprintf("renamed from %q", old), nil
	}, later)
}

// Move puts a device in another segment: its credential line gets the new
// VLAN and the device is made to reconnect into it, and the firewall
// confines it as the segment says. A quarantine segment quarantines it;
// another segment releases it.
func (o *Owner) Move(ctx context.Context, id, segment string, by Actor) (registry.Device, error) {
	return o.move(ctx, id, segment, "", by)
}

// move is Move with why, if any, added to what the device's history says.
func (o *Owner) move(ctx context.Context, id, segment, why string, by Actor) (registry.Device, error) {
	seg, ok := o.segment(segment)
	if !ok {
		return registry.Device{}, fault.New(fault.Invalid, "no segment %q", segment)
	}
	d, err := o.o.Registry.Get(id)
	if err != nil {
		return registry.Device{}, err
	}
	kind := Moved
	switch {
	case seg.Quarantine:
		kind = Quarantined
	case d.Quarantined:
		kind = Released
	}
	return o.change(ctx, kind, by, d.ID, func(d *registry.Device) (string, error) {
		switch {
		case !seg.Quarantine:
			d.QuarantinedFrom = ""
		case !d.Quarantined:
			d.QuarantinedFrom = d.Segment
		}
		d.Segment, d.Quarantined = seg.Name, seg.Quarantine
		if d.Onboarding != nil {
			d.Onboarding.Segment = seg.Name
		}
		what := "moved to segment " + seg.Name
		if seg.Quarantine {
			what = "quarantined"
		}
		if why != "" {
			what += " " + why
		}
		return what, nil
	}, now)
}

// Quarantine confines a device to DHCP and DNS on the router, in the
// quarantine segment, until the householder releases it.
func (o *Owner) Quarantine(ctx context.Context, id string, by Actor) (registry.Device, error) {
	return o.QuarantineBecause(ctx, id, "", by)
}

// QuarantineBecause is Quarantine with why in the device's history
// ("quarantined " + why): trustjoin's own decisions say what led to them.
func (o *Owner) QuarantineBecause(ctx context.Context, id, why string, by Actor) (registry.Device, error) {
	q, ok := o.quarantine()
	if !ok {
		return registry.Device{}, fault.New(fault.Unavailable, "no quarantine segment is configured")
	}
	return o.move(ctx, id, q, why, by)
}

// Release returns a quarantined device to the segment it was quarantined
// from (a guest device stays a guest), or to the default segment if the
// configuration no longer has that one.
func (o *Owner) Release(ctx context.Context, id string, by Actor) (registry.Device, error) {
	d, err := o.o.Registry.Get(id)
	if err != nil {
		return registry.Device{}, err
	}
	if !d.Quarantined {
		return d, nil // nothing to lift; a phone link moves nothing this way
	}
	to := o.o.DefaultSegment
	if s, ok := o.segment(d.QuarantinedFrom); ok && !s.Quarantine {
		to = s.Name
	}
	return o.Move(ctx, d.ID, to, by)
}

// Remove withdraws a device's credential so it can no longer connect: its
// line leaves every PSK file, hostapd reloads them, the station is
// deauthenticated and its cached keys flushed, and the firewall forgets
// it. Scanning it again gives it a new credential.
func (o *Owner) Remove(ctx context.Context, id string, by Actor) (registry.Device, error) {
	d, err := o.change(ctx, Removed, by, id, func(d *registry.Device) (string, error) {
		d.State = registry.StateRemoved
		d.KeyID, d.Onboarding = "", nil
		return "removed: credential withdrawn", nil
	}, now)
	if d.ID == "" {
		return d, err
	}
	if d.KeyHash != "" {
		o.o.Registry.RemovePreauth(d.KeyHash)
	}
	if o.o.Radio != nil {
		o.o.Radio.Forget(ctx, d.ID)
	}
	if o.o.MUD != nil {
		o.o.MUD.Forget(d.ID)
	}
	if err != nil {
		return d, fmt.Errorf("%s is removed, but withdrawing its credential failed (trustjoin keeps trying): %w", d.Name, err)
	}
	o.log.Info("device removed, its credential withdrawn", "device", d.ID)
	return d, nil
}

// Rotate asks for a fresh credential where the device can take one without
// being scanned again. Devices configured for PSK cannot be reconfigured
// over DPP (reconfiguration needs the DPP AKM), so they are marked as
// needing re-onboarding: their current credential keeps working until the
// householder scans them again, which replaces it.
func (o *Owner) Rotate(ctx context.Context, id string, by Actor) (registry.Device, error) {
	return o.change(ctx, Rotated, by, id, func(d *registry.Device) (string, error) {
		d.State = registry.StateNeedsReonboarding
		return "credential rotation requested: scan the device again to give it a fresh credential", nil
	}, later)
}

// Expire withdraws a device's credential because it expired (why says
// which rule): the device is cut off and needs scanning again. It stays
// in the household, with its segment, quarantine and MUD URL.
func (o *Owner) Expire(ctx context.Context, id, why string) (registry.Device, error) {
	return o.change(ctx, Expired, System, id, func(d *registry.Device) (string, error) {
		d.State = registry.StateNeedsReonboarding
		d.KeyID, d.Onboarding = "", nil
		return "credential expired (" + why + "): scan the device again to give it a new one", nil
	}, now)
}
