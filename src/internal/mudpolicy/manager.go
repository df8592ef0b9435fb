package mudpolicy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/mud"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// DevicePolicy is everything the firewall needs to confine one device.
type DevicePolicy struct {
	ID          string
	MACs        []string
	Segment     string
	Quarantined bool
	// Policy is the MUD file to enforce; nil keeps the device in its
	// segment's default (no MUD URL, or a file not verified or approved).
	Policy *mud.Policy
	// Manufacturer is the authority of the device's MUD URL, what other
	// devices' manufacturer and same-manufacturer matches compare with.
	Manufacturer string
}

// Enforcer applies device policies; the firewall implements it.
type Enforcer interface {
	Apply(ctx context.Context, p DevicePolicy) error
	Remove(ctx context.Context, id string) error
}

// Source gets MUD files and their signatures; *mud.Fetcher implements it.
type Source interface {
	Get(ctx context.Context, u string) (*mud.Result, error)
	Cached(u string) (*mud.Result, bool)
	Signature(ctx context.Context, u string) ([]byte, error)
	CachedSignature(u string) ([]byte, bool)
}

// Options configure a Manager.
type Options struct {
	Log      *slog.Logger
	Registry *registry.Registry
	Source   Source
	// Enforcer nil means status only: files are fetched, checked and their
	// status recorded, but no firewall confines the device.
	Enforcer Enforcer
	Policy   config.SignaturePolicy
	// Off is MUD turned off in the configuration (mud.enabled '0'): no
	// file is fetched and devices keep their segment's default, but the
	// manager still hands every device's segment and quarantine to the
	// Enforcer.
	Off bool
	// Anchors are the MUD trust anchors; nil trusts no signer.
	Anchors *x509.CertPool
	// RetryAfter is how soon a failed fetch or firewall update is tried
	// again; zero means 15 minutes.
	RetryAfter time.Duration
	Now        func() time.Time
}

// A Manager keeps every device's MUD policy current. It is a daemon task.
type Manager struct {
	o     Options
	ready chan struct{}
	wake  chan struct{}

	mu    sync.Mutex
	dirty map[string]bool

	// work serialises reconciling; it guards states.
	work   sync.Mutex
	states map[string]*devState
}

// devState is what the manager knows of one device beyond the registry.
type devState struct {
	url     string
	fetched time.Time
	next    time.Time
	// enforced is the MUD file in force (nil: none) and its digest.
	enforced       *mud.Policy
	enforcedDigest string
	// applied is what the Enforcer last accepted, as a comparable key.
	applied string
	// retry: the firewall failed, ask it again at next.
	retry bool
	// status and detail are the last evaluation, before any note about
	// the firewall, for when the file cannot be evaluated again.
	status, detail string
}

// due says whether the device needs looking at by now.
func (st *devState) due(now time.Time) bool {
	return (st.url != "" || st.retry) && !now.Before(st.next)
}

// New returns a Manager.
func New(o Options) *Manager {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetryAfter == 0 {
		o.RetryAfter = 15 * time.Minute
	}
	if o.Policy == "" {
		o.Policy = config.SignatureApprove
	}
	return &Manager{o: o, ready: make(chan struct{}), wake: make(chan struct{}, 1), dirty: map[string]bool{}, states: map[string]*devState{}}
}

func (m *Manager) String() string { return "MUD manager" }

// Ready is closed once every device's enforcement is restored.
func (m *Manager) Ready() <-chan struct{} { return m.ready }

// Changed tells the manager that a device was added, moved, removed or got
// a new MUD URL. It only takes note, so the registry may call it under its
// lock.
func (m *Manager) Changed(id string) {
	m.mu.Lock()
	m.dirty[id] = true
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run restores every device's policy from the cached files, reports ready,
// then keeps files fresh and follows changes until ctx is cancelled.
func (m *Manager) Run(ctx context.Context) error {
	m.o.Registry.OnChange(m.Changed)
	defer m.o.Registry.OnChange(nil)
	if m.o.Enforcer == nil {
		m.o.Log.Warn("no firewall to enforce MUD policies with: their status is recorded but devices are not confined by them")
	}
	devs := m.o.Registry.List()
	for _, d := range devs {
		m.reconcile(ctx, d.ID, false)
	}
	close(m.ready)
	m.o.Log.Info("MUD policies restored", "devices", len(devs), "signature_policy", m.o.Policy)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		m.mu.Lock()
		ids := m.dirty
		m.dirty = map[string]bool{}
		m.mu.Unlock()
		now := m.o.Now()
		m.work.Lock()
		for id, st := range m.states {
			if st.due(now) {
				ids[id] = true
			}
		}
		m.work.Unlock()
		for _, id := range sortedKeys(ids) {
			if ctx.Err() != nil {
				return nil
			}
			m.reconcile(ctx, id, true)
		}
		wait := m.nextDue().Sub(m.o.Now())
		if wait < time.Second {
			wait = time.Second
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

func sortedKeys(s map[string]bool) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (m *Manager) nextDue() time.Time {
	m.work.Lock()
	defer m.work.Unlock()
	next := m.o.Now().Add(time.Hour)
	for _, st := range m.states {
		if (st.url != "" || st.retry) && st.next.Before(next) {
			next = st.next
		}
	}
	return next
}

// reconcile brings one device's status and enforcement up to date. With
// network false only cached files and signatures are used; with it, the
// network is asked only when the file is due or its URL changed.
func (m *Manager) reconcile(ctx context.Context, id string, network bool) {
	m.work.Lock()
	defer m.work.Unlock()
	now := m.o.Now()
	d, err := m.o.Registry.Get(id)
	st := m.states[id]
	if err != nil {
		// Removed: lift its confinement (the firewall forgets it).
		if st != nil && st.applied != "" && m.o.Enforcer != nil {
			if err := m.o.Enforcer.Remove(ctx, id); err != nil {
				m.o.Log.Error("failed to remove a device's MUD policy from the firewall", "device", id, "err", err)
				st.next, st.retry = now.Add(min(m.o.RetryAfter, time.Minute)), true
				return
			}
		}
		delete(m.states, id)
		return
	}
	if st == nil {
		st = &devState{}
		m.states[id] = st
	}
	dp := DevicePolicy{ID: d.ID, MACs: slices.Clone(d.MACs), Segment: d.Segment, Quarantined: d.Quarantined, Manufacturer: authority(d.MUDURL)}
	status, detail, digest, fetched := "none", "", "", time.Time{}
	switch {
	case d.MUDURL != "" && m.o.Off:
		status, detail = "none", "MUD is turned off in the configuration (mud.enabled '0'): the device has its segment's default"
		st.url, st.enforced, st.enforcedDigest = "", nil, ""
	case d.MUDURL != "":
		online := network && (st.url != d.MUDURL || !now.Before(st.next))
		var e eval
		if e, err = m.evaluate(ctx, d, st, online); err != nil {
			// Nothing fetched yet and nothing cached: keep the last word.
			status, detail, digest, fetched = st.status, st.detail, d.MUDDigest, d.MUDFetched
			if status == "" {
				status, detail = "fetching", "the MUD file has not been fetched yet"
			}
		} else {
			status, detail, digest, fetched = e.status, e.detail, e.digest, e.fetched
			st.status, st.detail = status, detail
		}
	default:
		st.url, st.enforced, st.enforcedDigest = "", nil, ""
	}
	dp.Policy = st.enforced
	if m.o.Enforcer == nil {
		if status == string(Enforce) {
			detail += "; not enforced: this daemon has no firewall to enforce it with (status only)"
		}
	} else if key := policyKey(dp, st.enforcedDigest); key != st.applied {
		if err := m.o.Enforcer.Apply(ctx, dp); err != nil {
			m.o.Log.Error("firewall failed to apply a device's policy", "device", id, "err", err)
			detail += "; the firewall failed to apply it and will be asked again: " + err.Error()
			// Ask again soon, without putting off a fetch that is due.
			retryAt := now.Add(min(m.o.RetryAfter, time.Minute))
			if st.url == "" || st.next.After(retryAt) {
				st.next = retryAt
			}
			st.retry = true
		} else {
			st.applied, st.retry = key, false
		}
	}
	if status != d.MUDStatus || detail != d.MUDDetail || digest != d.MUDDigest || !fetched.Equal(d.MUDFetched) {
		mudURL := d.MUDURL
		_, err := m.o.Registry.Update(id, func(d *registry.Device) error {
			if d.MUDURL != mudURL {
				// Changed meanwhile (SetURL): that change is reconciled next.
				return errStale
			}
			if d.MUDStatus != status {
				d.Record(now, "MUD "+status)
			}
			d.MUDStatus, d.MUDDetail, d.MUDDigest, d.MUDFetched = status, detail, digest, fetched
			return nil
		})
		if err != nil && !fault.Is(err, fault.NotFound) && !errors.Is(err, errStale) {
			m.o.Log.Error("failed to record a device's MUD status", "device", id, "err", err)
		}
		if status != d.MUDStatus {
			m.o.Log.Info("MUD status", "device", id, "url", d.MUDURL, "status", status, "detail", detail)
		}
	}
}

type eval struct {
	status, detail, digest string
	fetched                time.Time
}

var (
	errNotFetched = errors.New("not fetched yet")
	errStale      = errors.New("device changed meanwhile")
)

// evaluate fetches (or takes from the cache), verifies and decides; it
// updates st's file and enforced policy.
func (m *Manager) evaluate(ctx context.Context, d registry.Device, st *devState, online bool) (eval, error) {
	now := m.o.Now()
	u := d.MUDURL
	var res *mud.Result
	if online {
		r, err := m.o.Source.Get(ctx, u)
		if err != nil {
			st.url, st.next = u, now.Add(m.o.RetryAfter)
			if st.enforced != nil && st.enforced.URL == u {
				return eval{status: string(Enforce), detail: "fetching the MUD file again failed (" + err.Error() + "); still enforcing the copy fetched before", digest: d.MUDDigest, fetched: st.fetched}, nil
			}
			st.enforced, st.enforcedDigest = nil, ""
			return eval{status: "fetch-failed", detail: "the MUD file could not be fetched (" + err.Error() + "); the device stays in its segment's default until it can be", fetched: time.Time{}}, nil
		}
		res = r
	} else {
		r, ok := m.o.Source.Cached(u)
		if !ok {
			// Due at once: the loop fetches it.
			st.url, st.next = u, time.Time{}
			return eval{}, errNotFetched
		}
		res = r
	}
	fresh := online && !res.FetchedAt.Equal(st.fetched)
	st.url, st.fetched = u, res.FetchedAt
	validity := res.Policy.CacheValidity
	if validity <= 0 {
		validity = 48 * time.Hour
	}
	if res.Stale {
		st.next = now.Add(m.o.RetryAfter)
	} else {
		st.next = res.FetchedAt.Add(validity)
	}

	v := m.verify(ctx, res, fresh, online)
	dec := Decide(v, m.o.Policy, d.MUDApproved)
	e := eval{status: string(dec.Verdict), detail: dec.Reason, digest: v.Digest, fetched: res.FetchedAt}
	switch dec.Verdict {
	case Enforce:
		st.enforced, st.enforcedDigest = res.Policy, v.Digest
	case PendingApproval:
		// A file that now needs approval (changed, or its chain expired)
		// does not take away the file of the same URL enforced before: a
		// server cannot loosen or tighten the device's policy by surprise.
		if st.enforced != nil && st.enforced.URL == u {
			e.detail += "; until then the file enforced before stays in force"
		} else {
			st.enforced, st.enforcedDigest = nil, ""
		}
	default:
		st.enforced, st.enforcedDigest = nil, ""
	}
	if res.Stale {
		e.detail += fmt.Sprintf("; refreshing the file failed (%s), so the copy fetched on %s is used", res.LastError, res.FetchedAt.UTC().Format("2006-01-02 15:04 MST"))
	}
	return e, nil
}

// verify checks the file's signature, fetching it when the file is fresh
// from the network and taking the cached copy otherwise.
func (m *Manager) verify(ctx context.Context, res *mud.Result, fresh, online bool) mud.Verification {
	sigURL := res.Policy.Signature
	if sigURL == "" {
		return mud.VerifySignature(res.Raw, nil, m.o.Anchors, m.o.Now())
	}
	if ref, err := url.Parse(res.Policy.URL); err == nil {
		// mud-signature may be relative to the file's own URL.
		if su, err := ref.Parse(sigURL); err == nil {
			sigURL = su.String()
		}
	}
	sig, ok := m.o.Source.CachedSignature(sigURL)
	if fresh || (!ok && online) {
		b, err := m.o.Source.Signature(ctx, sigURL)
		if err != nil {
			return mud.Verification{Status: mud.SigUnfetchable, Detail: "the MUD file's signature (" + sigURL + ") could not be fetched: " + err.Error(), Digest: mud.Digest(res.Raw)}
		}
		sig, ok = b, true
	}
	if !ok {
		return mud.Verification{Status: mud.SigUnfetchable, Detail: "the MUD file's signature (" + sigURL + ") has not been fetched yet", Digest: mud.Digest(res.Raw)}
	}
	return mud.VerifySignature(res.Raw, sig, m.o.Anchors, m.o.Now())
}

func policyKey(dp DevicePolicy, digest string) string {
	return fmt.Sprintf("%q %q %v %q %q", dp.MACs, dp.Segment, dp.Quarantined, dp.Manufacturer, digest)
}

// authority is the host of a MUD URL, what manufacturer matches compare.
func authority(u string) string {
	if u == "" {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return strings.ToLower(p.Hostname())
}

// ValidURL checks a MUD URL given by hand or by DHCP: RFC 8520 allows
// https only.
func ValidURL(u string) error {
	p, err := url.Parse(u)
	switch {
	case len(u) > 1024:
		return fault.New(fault.Invalid, "the MUD URL is longer than 1024 characters")
	case err != nil:
		return fault.New(fault.Invalid, "%q is not a URL", u)
	case p.Scheme != "https" || p.Host == "" || p.Hostname() == "":
		return fault.New(fault.Invalid, "%q is not an https URL (MUD files are only fetched over https)", u)
	case p.User != nil:
		return fault.New(fault.Invalid, "the MUD URL must not carry a user name or password")
	}
	return nil
}

// SetURL records a device's MUD URL; the file is fetched in the
// background. source says where it came from (user, dhcp, dpp). A URL from
// DHCP, which anyone on the network can forge, may not change the
// manufacturer of a device that already has a MUD URL (RFC 8520 section
// 16); the householder can.
func (m *Manager) SetURL(id, u, source string) (registry.Device, error) {
	if err := ValidURL(u); err != nil {
		return registry.Device{}, err
	}
	return m.o.Registry.Update(id, func(d *registry.Device) error {
		if d.MUDURL == u {
			return nil
		}
		if source == "dhcp" && d.MUDURL != "" && authority(d.MUDURL) != authority(u) {
			return fault.New(fault.Conflict, "%s already has a MUD URL from %s; a DHCP request may not change its manufacturer to %s (set it by hand to change it)", d.Name, authority(d.MUDURL), authority(u))
		}
		d.MUDURL = u
		d.MUDStatus, d.MUDDetail, d.MUDDigest, d.MUDFetched = "fetching", "the MUD file has not been fetched yet", "", time.Time{}
		d.Record(m.o.Now(), "MUD URL set ("+source+")")
		return nil
	})
}

// Approve lets the device's current MUD file be enforced although its
// signature is not verified. The approval names the file's SHA-256: a
// changed file needs approving again.
func (m *Manager) Approve(ctx context.Context, id string) (registry.Device, error) {
	d, err := m.o.Registry.Update(id, func(d *registry.Device) error {
		switch {
		case d.MUDURL == "":
			return fault.New(fault.Conflict, "%s has no MUD URL", d.Name)
		case d.MUDStatus != string(PendingApproval) || d.MUDDigest == "":
			return fault.New(fault.Conflict, "%s has no MUD file waiting for approval (its MUD status is %s)", d.Name, orNone(d.MUDStatus))
		}
		d.MUDApproved = d.MUDDigest
		d.Record(m.o.Now(), "MUD file approved (sha256 "+d.MUDDigest[:min(12, len(d.MUDDigest))]+")")
		return nil
	})
	if err != nil {
		return registry.Device{}, err
	}
	m.reconcile(ctx, d.ID, false)
	return m.o.Registry.Get(d.ID)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
