package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/dpp"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/firewall"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// Actor is who asks for a change. What each may do differs (see allowed).
type Actor string

// The actors.
const (
	// Householder is whoever reaches the root-only local API: the CLI,
	// LuCI, and an ISP's ACS through the rpcd plugin.
	Householder Actor = "householder"
	// Phone is a one-time phone link: it may add new devices only.
	Phone Actor = "phone"
	// Self is the device itself: what hostapd reports of it (connecting,
	// leaving, receiving its credential) and what it claims (its MUD URL
	// over DPP or DHCP, which anyone on the network could forge).
	Self Actor = "device"
	// System is trustjoin: MUD decisions, credentials that expire.
	System Actor = "trustjoin"
)

// Kind is what a change does to a device.
type Kind string

// The changes a device's standing goes through.
const (
	// Onboarding: a credential is on its way to the device (a new device,
	// or one the household has, scanned again).
	Onboarding Kind = "onboarding"
	// Configured: the device received its credential.
	Configured Kind = "configured"
	// Onboarded: the device connected with its new credential, which
	// replaces any it had.
	Onboarded Kind = "onboarded"
	// OnboardingFailed: the exchange ended without the device connecting
	// with its new credential; a credential it had before keeps working.
	OnboardingFailed Kind = "onboarding-failed"
	Connected        Kind = "connected"
	Disconnected     Kind = "disconnected"
	Renamed          Kind = "renamed"
	Moved            Kind = "moved"
	Quarantined      Kind = "quarantined"
	Released         Kind = "released"
	Removed          Kind = "removed"
	// Rotated: a fresh credential is due; the device needs scanning again.
	Rotated Kind = "rotated"
	// Expired: the device's credential was withdrawn because it expired.
	Expired       Kind = "expired"
	PreAuthorised Kind = "pre-authorised"
	// MUDURLSet: the device's MUD URL was set, by hand or by the device.
	MUDURLSet   Kind = "mud-url"
	MUDApproved Kind = "mud-approved"
	// MUDDecided: the MUD file was fetched, checked and decided on.
	MUDDecided Kind = "mud-decided"
)

// A Change is one change of a device's standing: what it is, who asked,
// and the device before and after (Before is zero for a new device).
type Change struct {
	Kind          Kind
	By            Actor
	Before, After registry.Device
}

// Radio is the onboarding engine (*dpp.Engine): the DPP protocol over each
// access point's hostapd.
type Radio interface {
	Onboard(ctx context.Context, r dpp.OnboardRequest) (dpp.Request, error)
	IssuePassphrase(ctx context.Context, keyID string, vlan int) (dpp.Issued, error)
	// Forget drops what hostapd holds for a device that is gone.
	Forget(ctx context.Context, deviceID string)
	// Arm listens for the pre-authorised devices (Chirps) again.
	Arm(ctx context.Context)
}

// Firewall confines devices: *firewall.Enforcer.
type Firewall interface {
	Apply(ctx context.Context, d firewall.Device) error
	Remove(ctx context.Context, id string) error
	// AllCounters reads what the firewall judged for every device it
	// holds, by id, at once.
	AllCounters() (map[string]firewall.Counters, error)
}

// Authorization is a device about to be given a credential, as Authorize
// is asked about it.
type Authorization struct {
	Name, Segment string
	// KeyHash is its DPP bootstrapping key's hash, if it has one.
	KeyHash string
	// Via is how: "chirp" (pre-authorised) or "legacy" (a passphrase).
	Via string
}

// Options configure an Owner.
type Options struct {
	Log      *slog.Logger
	Registry *registry.Registry
	// Segments are the configured segments; DefaultSegment is where a
	// device goes unless told otherwise.
	Segments       []config.Segment
	DefaultSegment string
	// Radio onboards; nil (tests) refuses onboarding.
	Radio Radio
	// AccessPoints are the PSK files and hostapd of each access point,
	// whose lines the Owner brings to each device's standing.
	AccessPoints []credential.AccessPoint
	// Firewall nil means none (main.firewall '0'): MUD files are fetched,
	// checked and their status recorded, but nothing confines devices.
	Firewall Firewall
	// MUD nil means MUD is off (main.enabled '0'): MUD URLs are refused.
	MUD *mudpolicy.Manager
	// RetryAfter is how soon a firewall or PSK file that failed is asked
	// again; zero means a minute.
	RetryAfter time.Duration
	// Allow, if set, is asked about every change after the household's
	// own rules; an error refuses the change (nothing is saved; a
	// *fault.Error carries its kind to the API). The place for an
	// authorisation policy of one's own. It runs while the registry is
	// locked: it must decide from the Change alone.
	Allow func(Change) error
	// Authorize, if set, is asked before a device is given a credential
	// on a path the API's onboarding does not ask for it: a pre-authorised
	// device, before it is listened for, and a device given a passphrase
	// of its own. It answers the segment the device goes to (the one asked
	// for, or another the authorisation hook chose), or an error that
	// refuses it. It may take seconds (the hook runs); the registry is not
	// locked meanwhile.
	Authorize func(ctx context.Context, a Authorization) (segment string, err error)
	// Observe, if set, hears of every change once it is saved. It must
	// not block or call back into the Owner.
	Observe func(Change)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// An Owner owns the household's devices: it is the one place a device's
// standing changes (onboarding, segment, quarantine, removal, credential,
// MUD URL), it checks each change against who asks, records it, and brings
// what enforces it (the firewall, the access points' PSK lines) to the new
// standing. It is a daemon task: Run restores every device's confinement,
// reports ready, and keeps MUD files fresh and failed enforcement retried.
type Owner struct {
	o     Options
	log   *slog.Logger
	ready chan struct{}
	wake  chan struct{}

	mu    sync.Mutex
	dirty map[string]bool

	// syncMu serialises bringing enforcement to a device's standing; it
	// guards inForce and policies.
	syncMu  sync.Mutex
	inForce map[string]*inForce
	// policies are the MUD decisions, with the policy the firewall gets.
	policies map[string]mudpolicy.Outcome
}

var _ dpp.Devices = (*Owner)(nil)

// New returns an Owner.
func New(o Options) *Owner {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetryAfter == 0 {
		o.RetryAfter = time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Owner{
		o: o, log: o.Log, ready: make(chan struct{}), wake: make(chan struct{}, 1),
		dirty: map[string]bool{}, inForce: map[string]*inForce{}, policies: map[string]mudpolicy.Outcome{},
	}
}

// SetRadio sets the onboarding engine, which needs the Owner first.
func (o *Owner) SetRadio(r Radio) { o.o.Radio = r }

// String implements the daemon's Task.
func (o *Owner) String() string { return "devices" }

// Ready is closed once every device's confinement is restored.
func (o *Owner) Ready() <-chan struct{} { return o.ready }

// Device finds a device by id or name.
func (o *Owner) Device(idOrName string) (registry.Device, error) { return o.o.Registry.Get(idOrName) }

// Devices lists the devices not removed, by name.
func (o *Owner) Devices() []registry.Device { return o.o.Registry.List() }

// Preauths lists the pre-authorised devices.
func (o *Owner) Preauths() []registry.Preauth { return o.o.Registry.Preauths() }

// segment returns the segment called name.
func (o *Owner) segment(name string) (config.Segment, bool) {
	for _, s := range o.o.Segments {
		if s.Name == name {
			return s, true
		}
	}
	return config.Segment{}, false
}

// quarantine returns the quarantine segment, the last configured.
func (o *Owner) quarantine() (string, bool) {
	name := ""
	for _, s := range o.o.Segments {
		if s.Quarantine {
			name = s.Name
		}
	}
	return name, name != ""
}

// vlan is the VLAN of a segment's lines; -1 for a segment the
// configuration no longer has, whose lines keep the VLAN they have.
func (o *Owner) vlan(segment string) int {
	s, ok := o.segment(segment)
	if !ok {
		return -1
	}
	return s.VLAN
}

// known says whether the household has the device: it exists and was not
// removed.
func known(d registry.Device) bool { return d.ID != "" && d.State != registry.StateRemoved }

// allowed holds the household's rules about who may change what; every
// change passes it before it is saved.
func (o *Owner) allowed(c Change) error {
	switch {
	case c.By == Phone && c.Kind == Onboarding && known(c.Before):
		// A phone link adds devices; changing one the household has
		// (its credential, segment or quarantine) is the householder's.
		return fault.New(fault.Forbidden, "%s is already on this network; a phone link can only add new devices. To give it a new credential, add it again from the router's page", c.Before.Name)
	case c.Before.Quarantined && !c.After.Quarantined && c.By != Householder:
		return fault.New(fault.Forbidden, "%s is in quarantine; only the householder can release it", c.Before.Name)
	}
	if o.o.Allow != nil {
		return o.o.Allow(c)
	}
	return nil
}

// settle keeps what must hold whatever the change: a quarantined device is
// in the quarantine segment, and so is the credential on its way to it.
func (o *Owner) settle(d *registry.Device) {
	q, ok := o.quarantine()
	if !d.Quarantined || !ok {
		return
	}
	d.Segment = q
	if d.Onboarding != nil {
		d.Onboarding.Segment = q
	}
}

// edit is a change to one device: it edits d and returns the line for its
// history ("" for none), or errNoChange when there is nothing to do.
type edit func(d *registry.Device) (string, error)

// errNoChange: the change finds nothing to do; nothing is saved.
var errNoChange = errors.New("nothing to change")

// When a change is brought into force.
type when int

const (
	// later: by Run, soon; the caller does not wait.
	later when = iota
	// now: before the change returns, which says whether it worked.
	now
	// never: the caller brings it into force itself.
	never
)

// change is the one place a device's standing changes. fn edits a copy of
// the device with id; what must always hold is settled, the household's
// rules and Options.Allow check the result, and the registry saves it with
// a line in the device's history. Observers then hear of it, and what
// enforces the device's standing (firewall, PSK lines) is brought to it,
// now or later.
func (o *Owner) change(ctx context.Context, kind Kind, by Actor, id string, fn edit, w when) (registry.Device, error) {
	var c Change
	d, err := o.o.Registry.Update(id, func(d *registry.Device) error {
		var err error
		c, err = o.apply(kind, by, d, fn)
		return err
	})
	if errors.Is(err, errNoChange) {
		return o.o.Registry.Get(id)
	}
	return o.committed(ctx, c, d, err, w)
}

// create is change for a device the registry does not hold yet (base zero)
// or holds as removed (base is that record): it comes (back) into the
// household.
func (o *Owner) create(ctx context.Context, kind Kind, by Actor, base registry.Device, fn edit, w when) (registry.Device, error) {
	d := clone(base)
	c, err := o.apply(kind, by, &d, fn)
	if err == nil {
		err = o.o.Registry.Put(d)
	}
	if errors.Is(err, errNoChange) {
		return base, nil
	}
	return o.committed(ctx, c, d, err, w)
}

// changeMany is create for many devices with one save, for bulk imports:
// each base (zero for a new device) is edited by fn.
func (o *Owner) changeMany(ctx context.Context, kind Kind, by Actor, bases []registry.Device, fn func(i int, d *registry.Device) (string, error), w when) ([]registry.Device, error) {
	var (
		cs   []Change
		devs []registry.Device
	)
	for i, b := range bases {
		d := clone(b)
		c, err := o.apply(kind, by, &d, func(d *registry.Device) (string, error) { return fn(i, d) })
		if errors.Is(err, errNoChange) {
			continue
		}
		if err != nil {
			return nil, err
		}
		cs, devs = append(cs, c), append(devs, d)
	}
	if len(devs) == 0 {
		return nil, nil
	}
	if err := o.o.Registry.PutMany(devs); err != nil {
		return nil, err
	}
	for i, c := range cs {
		o.committed(ctx, c, devs[i], nil, w)
	}
	return devs, nil
}

// apply edits d for a change and checks the result.
func (o *Owner) apply(kind Kind, by Actor, d *registry.Device, fn edit) (Change, error) {
	c := Change{Kind: kind, By: by, Before: clone(*d)}
	what, err := fn(d)
	if err != nil {
		return c, err
	}
	o.settle(d)
	c.After = clone(*d)
	if err := o.allowed(c); err != nil {
		return c, err
	}
	if what != "" {
		d.Record(o.o.Now(), what)
	}
	return c, nil
}

// committed publishes a saved change.
func (o *Owner) committed(ctx context.Context, c Change, d registry.Device, err error, w when) (registry.Device, error) {
	if err != nil {
		return registry.Device{}, err
	}
	c.After = clone(d)
	if o.o.Observe != nil {
		o.o.Observe(c)
	}
	switch w {
	case now:
		if err := o.sync(ctx, d.ID); err != nil {
			return d, fmt.Errorf("%s: the change is saved but not in force yet (trustjoin keeps trying): %w", d.Name, err)
		}
	case later:
		o.kick(d.ID)
	}
	return d, nil
}

func clone(d registry.Device) registry.Device {
	d.MACs = slices.Clone(d.MACs)
	d.History = slices.Clone(d.History)
	if d.Onboarding != nil {
		ob := *d.Onboarding
		d.Onboarding = &ob
	}
	return d
}

// kick has Run look at a device soon.
func (o *Owner) kick(id string) {
	o.mu.Lock()
	o.dirty[id] = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}
