package mudpolicy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// Source gets MUD files and their signatures; *mud.Fetcher implements it.
type Source interface {
	Get(ctx context.Context, u string) (*mud.Result, error)
	Cached(u string) (*mud.Result, bool)
	Signature(ctx context.Context, u string) ([]byte, error)
	CachedSignature(u string) ([]byte, bool)
}

// Options configure a Manager.
type Options struct {
	Source Source
	Policy config.SignaturePolicy
	// Off is MUD turned off in the configuration (mud.enabled '0'): no
	// file is fetched and every device keeps its segment's default.
	Off bool
	// Anchors are the MUD trust anchors; nil trusts no signer.
	Anchors *x509.CertPool
	// RetryAfter is how soon a failed fetch is tried again; zero means 15
	// minutes.
	RetryAfter time.Duration
	Now        func() time.Time
}

// A Manager fetches, verifies and decides each device's MUD file, and
// remembers per device which file is in force and when to look again. It
// knows nothing of the registry or the firewall: the device owner (package
// device) asks it and records what it says.
type Manager struct {
	o Options

	// mu serialises evaluations; it guards states.
	mu     sync.Mutex
	states map[string]*devState
}

// devState is what the manager knows of one device.
type devState struct {
	url     string
	fetched time.Time
	next    time.Time
	// enforced is the MUD file in force (nil: none) and its digest.
	enforced       *mud.Policy
	enforcedDigest string
	// status and detail are the last evaluation, for when the file cannot
	// be evaluated again.
	status, detail string
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
	return &Manager{o: o, states: map[string]*devState{}}
}

// Subject is a device as the manager is asked about it: its MUD URL, the
// digest the householder approved, and what was recorded last time.
type Subject struct {
	ID, URL, Approved string
	// Digest and Fetched are the file last recorded, kept when nothing
	// can be evaluated (not fetched yet, no cached copy).
	Digest  string
	Fetched time.Time
}

// Outcome is where a device's MUD policy stands: a status (the api's
// MUDStatus values), why, the file's SHA-256 and fetch time, and the
// policy to enforce (nil: the segment's default) with its digest.
type Outcome struct {
	Status, Detail, Digest string
	Fetched                time.Time
	Policy                 *mud.Policy
	PolicyDigest           string
}

// Evaluate decides a device's MUD policy. With network false only cached
// files and signatures are used; with it, the network is asked only when
// the file is due or its URL changed.
func (m *Manager) Evaluate(ctx context.Context, s Subject, network bool) Outcome {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.o.Now()
	st := m.states[s.ID]
	if st == nil {
		st = &devState{}
		m.states[s.ID] = st
	}
	out := Outcome{Status: "none"}
	switch {
	case s.URL != "" && m.o.Off:
		out.Detail = "MUD is turned off in the configuration (mud.enabled '0'): the device has its segment's default"
		st.url, st.enforced, st.enforcedDigest = "", nil, ""
	case s.URL != "":
		online := network && (st.url != s.URL || !now.Before(st.next))
		e, err := m.evaluate(ctx, s, st, online)
		if err != nil {
			// Nothing fetched yet and nothing cached: keep the last word.
			out.Status, out.Detail, out.Digest, out.Fetched = st.status, st.detail, s.Digest, s.Fetched
			if out.Status == "" {
				out.Status, out.Detail = "fetching", "the MUD file has not been fetched yet"
			}
		} else {
			out.Status, out.Detail, out.Digest, out.Fetched = e.status, e.detail, e.digest, e.fetched
			st.status, st.detail = e.status, e.detail
		}
	default:
		st.url, st.enforced, st.enforcedDigest = "", nil, ""
	}
	out.Policy, out.PolicyDigest = st.enforced, st.enforcedDigest
	return out
}

// Forget drops what the manager knows of a device (removed).
func (m *Manager) Forget(id string) {
	m.mu.Lock()
	delete(m.states, id)
	m.mu.Unlock()
}

// Due lists the devices whose file is due to be fetched by now, and says
// when the next one will be (at most an hour ahead).
func (m *Manager) Due(now time.Time) (ids []string, next time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next = now.Add(time.Hour)
	for id, st := range m.states {
		if st.url == "" {
			continue
		}
		if !now.Before(st.next) {
			ids = append(ids, id)
		} else if st.next.Before(next) {
			next = st.next
		}
	}
	return ids, next
}

type eval struct {
	status, detail, digest string
	fetched                time.Time
}

var errNotFetched = errors.New("not fetched yet")

// evaluate fetches (or takes from the cache), verifies and decides; it
// updates st's file and enforced policy.
func (m *Manager) evaluate(ctx context.Context, s Subject, st *devState, online bool) (eval, error) {
	now := m.o.Now()
	u := s.URL
	var res *mud.Result
	if online {
		r, err := m.o.Source.Get(ctx, u)
		if err != nil {
			st.url, st.next = u, now.Add(m.o.RetryAfter)
			if st.enforced != nil && st.enforced.URL == u {
				return eval{status: string(Enforce), detail: "fetching the MUD file again failed (" + err.Error() + "); still enforcing the copy fetched before", digest: s.Digest, fetched: st.fetched}, nil
			}
			st.enforced, st.enforcedDigest = nil, ""
			return eval{status: "fetch-failed", detail: "the MUD file could not be fetched (" + err.Error() + "); the device stays in its segment's default until it can be", fetched: time.Time{}}, nil
		}
		res = r
	} else {
		r, ok := m.o.Source.Cached(u)
		if !ok {
			// Due at once: the next network evaluation fetches it.
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
	dec := Decide(v, m.o.Policy, s.Approved)
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

// Authority is the host of a MUD URL, what manufacturer matches compare.
func Authority(u string) string {
	if u == "" {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return strings.ToLower(p.Hostname())
}

// ValidURL checks a MUD URL, wherever it comes from (DPP, DHCP, the
// householder, an ISP): RFC 8520 allows https only.
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
