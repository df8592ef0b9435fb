package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/alert"
	"github.com/trustjoin/trustjoin/src/internal/authorize"
	"github.com/trustjoin/trustjoin/src/internal/behaviour"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/expiry"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/inventory"
	"github.com/trustjoin/trustjoin/src/internal/mud"
	"github.com/trustjoin/trustjoin/src/internal/mudlearn"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// Owner is the device owner: every change of a device's standing goes
// through it. why is recorded in the device's history.
type Owner interface {
	Devices() []registry.Device
	Quarantine(ctx context.Context, id, why string) error
	Move(ctx context.Context, id, segment, why string) error
	Expire(ctx context.Context, id, why string) error
	Remove(ctx context.Context, id, why string) error
}

// Options configure a Watch.
type Options struct {
	Log    *slog.Logger
	Config *config.Config
	Owner  Owner
	// Book records the security events.
	Book *alert.Book
	// Learner learns devices without a MUD file; nil: none are.
	Learner *mudlearn.Learner
	// Hook is the authorisation hook; nil: none.
	Hook *authorize.Hook
	// Inventory configures the search for unknown devices (its Known and
	// OnNew are the Watch's); nil Source is the system's. Ignored when
	// the configuration turns it off.
	Inventory inventory.Options
	// Firewall and Radios confine and refuse unknown devices the
	// household acts on, remembered in HandledFile; nil: not.
	Firewall    Firewall
	Radios      Radios
	HandledFile string
	// Connections logs the connections of the devices being learned (the
	// firewall); nil: none are logged, and nothing is learned.
	Connections Connections
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Connections has the firewall log the connections of the devices ids,
// and no others'.
type Connections interface {
	LogConnections(ctx context.Context, ids []string) error
}

// A Watch looks after the household's devices once onboarded.
type Watch struct {
	o    Options
	log  *slog.Logger
	rec  *behaviour.Recorder
	inv  *inventory.Inventory
	exp  *expiry.Clock
	chk  *authorize.Recheck
	acts chan func(context.Context)
	// learnKick wakes the task that tells the firewall which devices are
	// being learned.
	learnKick chan struct{}

	// handleMu serialises acting on unknown devices.
	handleMu sync.Mutex

	mu sync.Mutex
	// byMAC finds a device holding a credential by MAC; nil when it must
	// be built again (a device changed).
	byMAC map[string]registry.Device
	// hookFailing says the last periodic check failed, so a hook that
	// stays broken is one event, not one an hour.
	hookFailing bool
}

// New returns a Watch.
func New(o Options) *Watch {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Watch{o: o, log: o.Log, acts: make(chan func(context.Context), 64), learnKick: make(chan struct{}, 1)}
	w.rec = behaviour.NewRecorder(behaviour.Options{
		Log: o.Log, Device: w.deviceByMAC, Policy: w.policy, OnTrip: w.tripped, OnOpen: w.opened, Now: o.Now,
	})
	if o.Config.Watch.Unknown {
		io := o.Inventory
		io.Log, io.Known, io.OnNew, io.Now = o.Log, w.known, w.unknown, o.Now
		if io.Interval == 0 {
			io.Interval = o.Config.Watch.ScanInterval
		}
		w.inv = inventory.New(io)
	}
	w.exp = expiry.New(expiry.Options{
		Log: o.Log, Credentials: w.credentials, Warning: o.Config.Watch.ExpiryWarning,
		OnWarn: w.expiring, OnExpire: w.expired, Now: o.Now,
	})
	if o.Hook != nil && o.Config.Authorize.Interval > 0 {
		w.chk = &authorize.Recheck{Hook: o.Hook, Interval: o.Config.Authorize.Interval, Log: o.Log,
			Devices: w.hookDevices, Act: w.hookActed, Failed: w.hookFailed}
	}
	return w
}

// Recorder is the behaviour recorder the NFLOG feeds hand packets to.
func (w *Watch) Recorder() *behaviour.Recorder { return w.rec }

// task adapts a Run function to the daemon's Task.
type task struct {
	name  string
	run   func(context.Context) error
	ready <-chan struct{}
}

func (t task) String() string                 { return t.name }
func (t task) Run(ctx context.Context) error  { return t.run(ctx) }
func (t task) Ready() <-chan struct{}         { return t.ready }
func readyNow() <-chan struct{}               { c := make(chan struct{}); close(c); return c }
func (w *Watch) act(fn func(context.Context)) { w.acts <- fn }

// Task is what the daemon runs.
type Task interface {
	Run(ctx context.Context) error
	Ready() <-chan struct{}
	String() string
}

// Tasks are the Watch's long-running parts: the actions it takes (one at
// a time, off the paths that notice), the security events' delivery, the
// inventory, the credential clock, the periodic hook and the learned
// profiles' saving.
func (w *Watch) Tasks() []Task {
	ts := []Task{task{"watch actions", w.runActs, readyNow()}, w.o.Book, w.exp}
	if w.inv != nil {
		// Not waited for: the first scan says nothing about readiness.
		ts = append(ts, task{w.inv.String(), w.inv.Run, readyNow()})
	}
	if w.chk != nil {
		ts = append(ts, w.chk)
	}
	if w.o.Learner != nil {
		ts = append(ts, w.o.Learner)
		if w.o.Connections != nil {
			ts = append(ts, task{"learned devices' connections logged", w.runLearning, readyNow()})
		}
	}
	return ts
}

// runLearning keeps the firewall logging the connections of exactly the
// devices being learned: from when learning starts (Changed) until its
// period ends.
func (w *Watch) runLearning(ctx context.Context) error {
	var told []string
	first := true
	for {
		ids, next := w.o.Learner.Current()
		wait := time.Hour
		if !next.IsZero() {
			wait = min(wait, next.Sub(w.o.Now())+time.Second)
		}
		if first || !slices.Equal(ids, told) {
			if err := w.o.Connections.LogConnections(ctx, ids); err != nil {
				w.log.Error("failed to have the firewall log the connections of the devices being learned", "err", err)
				wait = min(wait, time.Minute)
			} else {
				told, first = ids, false
			}
		}
		t := time.NewTimer(max(wait, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-w.learnKick:
		case <-t.C:
		}
		t.Stop()
	}
}

func (w *Watch) kickLearning() {
	select {
	case w.learnKick <- struct{}{}:
	default:
	}
}

func (w *Watch) runActs(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case fn := <-w.acts:
			fn(ctx)
		}
	}
}

// holds says whether a device holds a credential.
func holds(d registry.Device) bool {
	return d.State != registry.StateRemoved && d.KeyID != ""
}

func (w *Watch) devicesByMAC() map[string]registry.Device {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byMAC == nil {
		w.byMAC = map[string]registry.Device{}
		for _, d := range w.o.Owner.Devices() {
			if !holds(d) {
				continue
			}
			for _, m := range d.MACs {
				if hw, err := net.ParseMAC(m); err == nil {
					w.byMAC[string(hw)] = d
				}
			}
		}
	}
	return w.byMAC
}

func (w *Watch) deviceByMAC(mac net.HardwareAddr) (string, bool) {
	d, ok := w.devicesByMAC()[string(mac)]
	return d.ID, ok
}

func (w *Watch) device(id string) (registry.Device, bool) {
	for _, d := range w.o.Owner.Devices() {
		if d.ID == id {
			return d, true
		}
	}
	return registry.Device{}, false
}

// policy is a device's watch policy: its segment's.
func (w *Watch) policy(id string) behaviour.Policy {
	d, ok := w.device(id)
	if !ok || d.Quarantined {
		return behaviour.Policy{Mode: behaviour.Off}
	}
	s, ok := w.o.Config.SegmentByName(d.Segment)
	if !ok {
		return behaviour.Policy{Mode: behaviour.Off}
	}
	mode, threshold, window := s.WatchPolicy()
	return behaviour.Policy{Mode: behaviour.Mode(mode), Threshold: threshold, Window: window}
}

// Changed takes note of a change to a device, from the Owner.
func (w *Watch) Changed(before, after registry.Device) {
	w.mu.Lock()
	w.byMAC = nil
	w.mu.Unlock()
	id := after.ID
	switch {
	case after.State == registry.StateRemoved:
		w.rec.Clear(id)
		if w.o.Learner != nil {
			if err := w.o.Learner.Forget(id); err != nil {
				w.log.Warn("failed to forget a learned profile", "device", id, "err", err)
			}
			w.kickLearning()
		}
	case before.Quarantined && !after.Quarantined, before.Segment != after.Segment:
		// Released or moved: what it did before is no reason to act again.
		w.rec.Clear(id)
	}
	w.mudNews(before, after)
	if after.KeyID != "" && after.KeyID != before.KeyID {
		// A new credential: a new lifetime, and, for a device without a
		// MUD file in a learning segment, a learning period.
		w.exp.Wake()
		if s, ok := w.o.Config.SegmentByName(after.Segment); ok && s.Learn > 0 && after.MUDURL == "" && w.o.Learner != nil {
			p := w.o.Learner.Start(id, after.Name, s.Learn)
			if p.Started.Equal(w.o.Now()) || p.Learning(w.o.Now()) {
				w.log.Info("learning what the device uses", "device", id, "until", p.Until.Format(time.RFC3339))
				w.kickLearning()
			}
		}
	}
}

// tripped: a device keeps trying what it may not.
func (w *Watch) tripped(t behaviour.Trip) {
	d, ok := w.device(t.Device)
	if !ok {
		return
	}
	reason := t.Reason()
	if t.Policy.Mode != behaviour.Quarantine {
		w.o.Book.Record(alert.Event{Kind: alert.Behaviour, Device: d.ID, Name: d.Name,
			Message: fmt.Sprintf("%s keeps trying what it may not: %s", d.Name, reason)})
		return
	}
	w.act(func(ctx context.Context) {
		if err := w.o.Owner.Quarantine(ctx, d.ID, "automatically: "+reason); err != nil {
			w.log.Error("failed to quarantine a device that keeps trying what it may not", "device", d.ID, "err", err)
			w.o.Book.Record(alert.Event{Kind: alert.Behaviour, Device: d.ID, Name: d.Name,
				Message: fmt.Sprintf("%s keeps trying what it may not (%s), and quarantining it failed: %v", d.Name, reason, err)})
			return
		}
		w.o.Book.Record(alert.Event{Kind: alert.AutoQuarantine, Device: d.ID, Name: d.Name,
			Message: fmt.Sprintf("%s was quarantined automatically: it %s. Once it is safe, release it: trustjoin release %q", d.Name, reason, d.Name)})
	})
}

// opened: a connection of a device being learned.
func (w *Watch) opened(id string, f behaviour.Flow, at time.Time) {
	if w.o.Learner != nil {
		w.o.Learner.Observe(id, f, at)
	}
}

// Learning says whether a device's connections are being learned: the
// firewall logs them only then.
func (w *Watch) Learning(id string) bool {
	return w.o.Learner != nil && w.o.Learner.Learning(id)
}

// known lists the household's devices holding a credential, for the
// inventory.
func (w *Watch) known() []inventory.Known {
	var out []inventory.Known
	for mac, d := range w.devicesByMAC() {
		out = append(out, inventory.Known{MAC: net.HardwareAddr(mac), ID: d.ID, Name: d.Name, Segment: d.Segment})
	}
	return out
}

func (w *Watch) unknown(u inventory.Unknown) {
	w.o.Book.Record(alert.Event{Kind: alert.UnknownDevice, Device: u.Device, Name: u.Name, MAC: u.MAC,
		Message: inventory.Describe(u)})
}

// Unknown lists the unknown devices, each with what the household did
// about it, and why the last scan failed, if it did.
func (w *Watch) Unknown() ([]inventory.Unknown, error) {
	if w.inv == nil {
		return nil, nil
	}
	us, err := w.inv.List()
	hs, herr := w.HandledList()
	for i := range us {
		for _, h := range hs {
			if h.MAC == us[i].MAC {
				us[i].Handled = h.Action
			}
		}
	}
	return us, errors.Join(err, herr)
}

// UnknownOff says the search for unknown devices is turned off.
func (w *Watch) UnknownOff() bool { return w.inv == nil }

// Lifetime is how long a device's credential lasts: its segment's.
func (w *Watch) Lifetime(d registry.Device) time.Duration {
	seg := d.Segment
	if d.Quarantined && d.QuarantinedFrom != "" {
		// Quarantine does not lengthen a credential's life.
		seg = d.QuarantinedFrom
	}
	s, ok := w.o.Config.SegmentByName(seg)
	if !ok {
		return 0
	}
	return s.Lifetime
}

// Expires says when a device's credential expires; zero for never.
func (w *Watch) Expires(d registry.Device) time.Time {
	if d.KeyID == "" {
		return time.Time{}
	}
	return expiry.Credential{Issued: d.CredentialCreated, Lifetime: w.Lifetime(d)}.Expires()
}

func (w *Watch) credentials() []expiry.Credential {
	var out []expiry.Credential
	for _, d := range w.o.Owner.Devices() {
		if d.KeyID == "" || d.State == registry.StateRemoved {
			continue
		}
		out = append(out, expiry.Credential{Device: d.ID, Name: d.Name, Issued: d.CredentialCreated, Lifetime: w.Lifetime(d)})
	}
	return out
}

func (w *Watch) expiring(c expiry.Credential) {
	w.o.Book.Record(alert.Event{Kind: alert.Expiring, Device: c.Device, Name: c.Name,
		Message: fmt.Sprintf("%s's credential expires at %s; scan the device again before then to give it a new one", c.Name, c.Expires().Format(time.RFC3339))})
}

func (w *Watch) expired(c expiry.Credential) {
	w.act(func(ctx context.Context) {
		why := "its lifetime of " + human(c.Lifetime) + " is over"
		if err := w.o.Owner.Expire(ctx, c.Device, why); err != nil {
			w.log.Error("failed to withdraw an expired credential", "device", c.Device, "err", err)
			return
		}
		w.o.Book.Record(alert.Event{Kind: alert.Expired, Device: c.Device, Name: c.Name,
			Message: fmt.Sprintf("%s's credential expired (%s) and was withdrawn; scan the device again to let it back", c.Name, why)})
	})
}

// human writes a duration as people say it: 1d, 12h, 90m.
func human(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// HookDevice is what the authorisation hook is told of a device.
func HookDevice(d registry.Device) authorize.Device {
	return authorize.Device{ID: d.ID, Name: d.Name, MACs: d.MACs, Segment: d.Segment, DPPKeyHash: d.KeyHash,
		MUDURL: d.MUDURL, MUDStatus: d.MUDStatus, State: string(d.State)}
}

func (w *Watch) hookDevices() []authorize.Device {
	var out []authorize.Device
	for _, d := range w.o.Owner.Devices() {
		if holds(d) {
			out = append(out, HookDevice(d))
		}
	}
	return out
}

// Authorize asks the hook before a device is given a credential. A deny
// or a failure is a security event.
func (w *Watch) Authorize(ctx context.Context, d authorize.Device) authorize.Decision {
	if w.o.Hook == nil {
		return authorize.Decision{Verdict: authorize.Allow, NoHook: true}
	}
	dec := w.o.Hook.Decide(ctx, authorize.Request{When: authorize.Onboarding, Device: d})
	name := d.Name
	if name == "" {
		name = "a new device"
	}
	switch {
	case dec.Failed != nil:
		w.o.Book.Record(alert.Event{Kind: alert.HookFailed, Device: d.ID, Name: d.Name,
			Message: fmt.Sprintf("the authorisation hook failed for %s (%v); as configured, it is %s", name, dec.Failed, map[authorize.Verdict]string{authorize.Allow: "allowed", authorize.Deny: "refused"}[dec.Verdict])})
	case dec.Verdict == authorize.Deny:
		w.o.Book.Record(alert.Event{Kind: alert.HookDenied, Device: d.ID, Name: d.Name,
			Message: fmt.Sprintf("the authorisation hook refused %s a credential%s", name, because(dec.Reason))})
	case dec.Verdict == authorize.Move && dec.Segment != d.Segment:
		w.o.Book.Record(alert.Event{Kind: alert.HookDenied, Device: d.ID, Name: d.Name,
			Message: fmt.Sprintf("the authorisation hook put %s in segment %s, not %s%s", name, dec.Segment, d.Segment, because(dec.Reason))})
	}
	return dec
}

// Admit asks the hook before a device is given a credential, as
// Authorize, and answers the segment it goes to (d.Segment, or the one the
// hook chose) or why it may not have one.
func (w *Watch) Admit(ctx context.Context, d authorize.Device) (string, error) {
	dec := w.Authorize(ctx, d)
	switch dec.Verdict {
	case authorize.Deny:
		if dec.Failed != nil {
			return "", fault.New(fault.Forbidden, "the authorisation hook failed (%v), and trustjoin is set to refuse a device then (authorize.on_failure 'deny')", dec.Failed)
		}
		msg := "the authorisation hook refused this device a credential"
		if dec.Reason != "" {
			msg += ": " + dec.Reason
		}
		return "", fault.New(fault.Forbidden, "%s", msg)
	case authorize.Move:
		return dec.Segment, nil
	}
	return d.Segment, nil
}

func because(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

func (w *Watch) hookActed(ctx context.Context, d authorize.Device, dec authorize.Decision) {
	w.mu.Lock()
	w.hookFailing = false
	w.mu.Unlock()
	var err error
	var msg string
	switch dec.Verdict {
	case authorize.Deny:
		err = w.o.Owner.Remove(ctx, d.ID, "the authorisation hook denied it"+because(dec.Reason))
		msg = fmt.Sprintf("the authorisation hook denied %s on its periodic check%s; its credential was withdrawn", d.Name, because(dec.Reason))
	case authorize.Move:
		err = w.o.Owner.Move(ctx, d.ID, dec.Segment, "the authorisation hook moved it"+because(dec.Reason))
		msg = fmt.Sprintf("the authorisation hook moved %s from segment %s to %s%s", d.Name, d.Segment, dec.Segment, because(dec.Reason))
	default:
		return
	}
	if err != nil {
		w.log.Error("failed to act on the authorisation hook's decision", "device", d.ID, "decision", dec.Verdict, "err", err)
		msg += fmt.Sprintf(" (but that failed: %v)", err)
	}
	w.o.Book.Record(alert.Event{Kind: alert.HookDenied, Device: d.ID, Name: d.Name, Message: msg})
}

func (w *Watch) hookFailed(err error) {
	w.mu.Lock()
	was := w.hookFailing
	w.hookFailing = true
	w.mu.Unlock()
	if !was {
		w.o.Book.Record(alert.Event{Kind: alert.HookFailed,
			Message: fmt.Sprintf("the authorisation hook failed on its periodic check (%v); devices keep their standing until it answers", err)})
	}
}

// Events are the security events recorded after seq, and the counts of
// all since the daemon started.
func (w *Watch) Events(seq uint64) ([]alert.Event, alert.Counts) {
	return w.o.Book.Since(seq), w.o.Book.Counts()
}

// Learned is a device's learned profile, if it has one.
func (w *Watch) Learned(id string) (mudlearn.Profile, bool) {
	if w.o.Learner == nil {
		return mudlearn.Profile{}, false
	}
	return w.o.Learner.Profile(id)
}

// KeepLearned writes a device's learned profile as the MUD file it
// becomes once approved, kept on flash where the MUD source serves it
// (mudlearn.Source), and returns its URL and SHA-256, for the device
// owner to enforce as a maker's file. A profile still being learned, or
// one that allows nothing, is refused.
func (w *Watch) KeepLearned(id, name string) (url, digest string, err error) {
	p, ok := w.Learned(id)
	switch {
	case !ok:
		return "", "", fault.New(fault.NotFound, "%s was not learned: it has a MUD file, or its segment learns no device (option learn)", name)
	case p.Learning(w.o.Now()):
		return "", "", fault.New(fault.Conflict, "%s is still being learned, until %s: approve its profile after that", name, p.Until.Format(time.RFC3339))
	case len(p.Destinations) == 0:
		return "", "", fault.New(fault.Conflict, "%s used nothing while it was learned: its profile would allow nothing beyond DHCP, DNS and NTP; set a MUD file of your own with trustjoin mud set if that is what you want", name)
	}
	raw, err := mudlearn.Propose(p, w.o.Now())
	if err != nil {
		return "", "", fmt.Errorf("failed to write %s's learned profile as a MUD file: %w", name, err)
	}
	url, err = w.o.Learner.Keep(id, raw)
	if err != nil {
		return "", "", err
	}
	return url, mud.Digest(raw), nil
}

// Now is the Watch's clock.
func (w *Watch) Now() time.Time { return w.o.Now() }

// mudNews: a device's MUD file changed, or one it was given is not
// enforced because its signature did not do (the owner's decision, with
// the reason in its detail).
func (w *Watch) mudNews(before, after registry.Device) {
	if after.State == registry.StateRemoved || after.MUDDigest == "" {
		return
	}
	if before.MUDDigest != "" && before.MUDDigest != after.MUDDigest {
		w.o.Book.Record(alert.Event{Kind: alert.MUDChanged, Device: after.ID, Name: after.Name,
			Message: fmt.Sprintf("%s's MUD file (%s) changed; it is %s", after.Name, after.MUDURL, after.MUDStatus)})
	}
	held := after.MUDStatus == string(mudpolicy.Rejected) || after.MUDStatus == string(mudpolicy.PendingApproval)
	if held && (before.MUDStatus != after.MUDStatus || before.MUDDigest != after.MUDDigest) {
		w.o.Book.Record(alert.Event{Kind: alert.MUDSignature, Device: after.ID, Name: after.Name,
			Message: fmt.Sprintf("%s's MUD file (%s) is not enforced (%s): %s", after.Name, after.MUDURL, after.MUDStatus, after.MUDDetail)})
	}
}
