package device

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/firewall"
	"github.com/trustjoin/trustjoin/src/internal/mud"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// Confinement is what a device's standing asks of what enforces it: the
// firewall and the access points' PSK lines.
type Confinement struct {
	ID string
	// Gone: the device was removed, or never was; nothing of it stays.
	Gone bool
	// MACs are the addresses the firewall knows it by; with none it is
	// confined by its segment only (by the VLAN its line puts it in).
	MACs        []string
	Segment     string
	Quarantined bool
	// Policy is the MUD policy in force (nil: its segment's default) and
	// PolicyDigest its file's SHA-256.
	Policy       *mud.Policy
	PolicyDigest string
	// Manufacturer is the authority of its MUD URL, for other devices'
	// manufacturer and same-manufacturer matches.
	Manufacturer string
	// Lines are its PSK lines (key id: VLAN); Current is the key id it
	// connects with ("" none).
	Lines   credential.Lines
	Current string
}

// Confinement publishes a device's desired confinement, by id.
func (o *Owner) Confinement(id string) Confinement {
	d, ok := o.find(id)
	if !ok {
		return Confinement{ID: id, Gone: true}
	}
	return o.confinement(d)
}

func (o *Owner) confinement(d registry.Device) Confinement {
	c := Confinement{ID: d.ID, Gone: d.State == registry.StateRemoved, Lines: credential.Lines{}}
	if c.Gone {
		return c
	}
	c.MACs, c.Segment, c.Quarantined = slices.Clone(d.MACs), d.Segment, d.Quarantined
	c.Manufacturer = mudpolicy.Authority(d.MUDURL)
	o.mu.Lock()
	p := o.policies[d.ID]
	o.mu.Unlock()
	c.Policy, c.PolicyDigest = p.Policy, p.PolicyDigest
	if d.KeyID != "" {
		c.Lines[d.KeyID] = o.vlan(d.Segment)
		c.Current = d.KeyID
	}
	if d.Onboarding != nil {
		c.Lines[d.Onboarding.KeyID] = o.vlan(d.Onboarding.Segment)
	}
	return c
}

// find finds a device by id, removed ones too.
func (o *Owner) find(id string) (registry.Device, bool) {
	if d, err := o.o.Registry.Get(id); err == nil && d.ID == id {
		return d, true
	}
	for _, d := range o.o.Registry.All() {
		if d.ID == id {
			return d, true
		}
	}
	return registry.Device{}, false
}

// inForce is what the firewall and the PSK files last accepted for a
// device.
type inForce struct {
	// firewall is the confinement the firewall holds, as a comparable key
	// ("" none).
	firewall string
	// fwErr and linesErr are what failed last; retryAt when to try again.
	fwErr, linesErr error
	retryAt         time.Time
}

func (st *inForce) err() error { return errors.Join(st.fwErr, st.linesErr) }

// InForce is what enforces a device's standing now.
type InForce struct {
	// Confined: the firewall holds the device's confinement as its
	// standing asks (its segment, quarantine and MUD policy).
	Confined bool
	// Problem says what could not be brought into force ("" nothing);
	// trustjoin keeps trying.
	Problem string
	// Counters are what the firewall judged for the device; nil while it
	// is not in the firewall.
	Counters *firewall.Counters
}

// InForce reports what enforces a device's standing, with the firewall's
// counters.
func (o *Owner) InForce(id string) InForce { return o.inForceOf(id)[id] }

// InForceAll is InForce for every device, by id, with one read of the
// firewall's counters: for lists. A device absent is one nothing enforces
// yet (the zero InForce).
func (o *Owner) InForceAll() map[string]InForce { return o.inForceOf("") }

// inForceOf is InForce of device id, or of every device for "".
func (o *Owner) inForceOf(id string) map[string]InForce {
	out := map[string]InForce{}
	held := false
	o.syncMu.Lock()
	for d, st := range o.inForce {
		if id != "" && d != id {
			continue
		}
		var f InForce
		f.Confined = st.firewall != "" && st.fwErr == nil
		if err := st.err(); err != nil {
			f.Problem = err.Error()
		}
		held = held || st.firewall != ""
		out[d] = f
	}
	o.syncMu.Unlock()
	if !held || o.o.Firewall == nil {
		return out
	}
	all, err := o.o.Firewall.AllCounters()
	if err != nil {
		// Shown as no counters; the firewall's own task says loudly
		// when its tables are missing.
		o.log.Debug("failed to read the firewall's counters", "err", err)
		return out
	}
	for d, c := range all {
		if f, ok := out[d]; ok {
			f.Counters = &c
			out[d] = f
		}
	}
	return out
}

func firewallKey(c Confinement) string {
	return fmt.Sprintf("%q %q %v %q %q", c.MACs, c.Segment, c.Quarantined, c.Manufacturer, c.PolicyDigest)
}

// sync brings the firewall and the PSK lines to a device's confinement.
func (o *Owner) sync(ctx context.Context, id string) error {
	d, ok := o.find(id)
	c := Confinement{ID: id, Gone: true}
	if ok {
		c = o.confinement(d)
	}
	o.syncMu.Lock()
	defer o.syncMu.Unlock()
	st := o.inForce[id]
	if st == nil {
		st = &inForce{}
		o.inForce[id] = st
	}
	var linesErr error
	if len(o.o.AccessPoints) > 0 {
		want := map[string]credential.Want{id: {Lines: c.Lines, Current: c.Current, Stations: d.MACs}}
		if err := credential.Sync(ctx, o.log, o.o.AccessPoints, want); err != nil {
			linesErr = fmt.Errorf("its Wi-Fi credential: %w", err)
		}
	}
	return o.settled(st, id, o.confine(ctx, c, st), linesErr)
}

// settled records how bringing a device into force went.
func (o *Owner) settled(st *inForce, id string, fwErr, linesErr error) error {
	before := st.err()
	st.fwErr, st.linesErr = fwErr, linesErr
	err := st.err()
	if err != nil && (before == nil || before.Error() != err.Error()) {
		o.log.Error("failed to bring a device's standing into force; trying again", "device", id, "err", err)
	}
	if err != nil {
		st.retryAt = o.o.Now().Add(o.o.RetryAfter)
		return err
	}
	if st.firewall == "" {
		delete(o.inForce, id)
	}
	return nil
}

// confine brings the firewall to c.
func (o *Owner) confine(ctx context.Context, c Confinement, st *inForce) error {
	fw := o.o.Firewall
	if fw == nil {
		return nil
	}
	if c.Gone || len(c.MACs) == 0 {
		if st.firewall == "" {
			return nil
		}
		if err := fw.Remove(ctx, c.ID); err != nil {
			return fmt.Errorf("the firewall failed to forget it: %w", err)
		}
		st.firewall = ""
		return nil
	}
	key := firewallKey(c)
	if key == st.firewall {
		return nil
	}
	dev := firewall.Device{ID: c.ID, Segment: c.Segment, Quarantined: c.Quarantined, Policy: c.Policy, Manufacturer: c.Manufacturer}
	for _, m := range c.MACs {
		hw, err := net.ParseMAC(m)
		if err != nil {
			return fmt.Errorf("bad MAC address %q: %v", m, err)
		}
		dev.MACs = append(dev.MACs, hw)
	}
	if err := fw.Apply(ctx, dev); err != nil {
		return err
	}
	st.firewall = key
	return nil
}

// syncAll brings every device into force, removed ones too (a line a
// removal could not delete goes now), with one pass over each PSK file.
func (o *Owner) syncAll(ctx context.Context) {
	devs := o.o.Registry.All()
	want := make(map[string]credential.Want, len(devs))
	cs := make([]Confinement, 0, len(devs))
	for _, d := range devs {
		c := o.confinement(d)
		cs = append(cs, c)
		want[d.ID] = credential.Want{Lines: c.Lines, Current: c.Current, Stations: d.MACs}
	}
	o.syncMu.Lock()
	defer o.syncMu.Unlock()
	var linesErr error
	if len(o.o.AccessPoints) > 0 {
		if err := credential.Sync(ctx, o.log, o.o.AccessPoints, want); err != nil {
			linesErr = fmt.Errorf("its Wi-Fi credential: %w", err)
		}
	}
	for _, c := range cs {
		st := o.inForce[c.ID]
		if st == nil {
			st = &inForce{}
			o.inForce[c.ID] = st
		}
		o.settled(st, c.ID, o.confine(ctx, c, st), linesErr)
	}
}

// withdraw deletes the lines of a device the registry does not hold.
func (o *Owner) withdraw(ctx context.Context, id string) {
	if len(o.o.AccessPoints) == 0 {
		return
	}
	if err := credential.Sync(ctx, o.log, o.o.AccessPoints, map[string]credential.Want{id: {}}); err != nil {
		o.log.Error("failed to delete a credential line", "device", id, "err", err)
	}
}

// retries lists the devices whose enforcement failed and is due again, and
// says when the next one will be.
func (o *Owner) retries(at time.Time) (ids []string, next time.Time) {
	o.syncMu.Lock()
	defer o.syncMu.Unlock()
	next = at.Add(time.Hour)
	for id, st := range o.inForce {
		if st.err() == nil {
			continue
		}
		if !at.Before(st.retryAt) {
			ids = append(ids, id)
		} else if st.retryAt.Before(next) {
			next = st.retryAt
		}
	}
	return ids, next
}
