package mudlearn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/behaviour"
	"github.com/trustjoin/trustjoin/src/internal/fsutil"
)

// Destination is one thing a device used while it was learned.
type Destination struct {
	// Inbound: another opened the connection to the device (Port is the
	// device's); otherwise the device opened it.
	Inbound bool `json:"inbound,omitempty"`
	// Name is the DNS name the device looked the other side up by; Addr
	// the other side's address when it had no name.
	Name  string     `json:"name,omitempty"`
	Addr  netip.Addr `json:"address,omitempty"`
	Proto uint8      `json:"proto"`
	// Port is the destination port, or the ICMP type.
	Port  uint16    `json:"port"`
	Count uint64    `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// Local says the other side is on the household's networks: private,
// unique-local or link-local addresses, matched in MUD as local-networks
// (RFC 8520's name for the LAN) rather than by address.
func (d Destination) Local() bool {
	return d.Name == "" && (d.Addr.IsPrivate() || d.Addr.IsLinkLocalUnicast())
}

// Profile is what one device was seen using.
type Profile struct {
	Device string `json:"device"`
	// Name is the device's name when learning started, for the proposal.
	Name    string    `json:"name,omitempty"`
	Started time.Time `json:"started"`
	Until   time.Time `json:"until"`
	// Full says destinations were left out: the device used more than a
	// profile holds, which is itself worth a look.
	Full         bool          `json:"full,omitempty"`
	Destinations []Destination `json:"destinations"`
}

// Learning says whether the profile is still being learned at t.
func (p Profile) Learning(t time.Time) bool { return t.Before(p.Until) }

// Options configure a Learner.
type Options struct {
	Log *slog.Logger
	// Dir holds one file per device being learned (on flash).
	Dir string
	// Max bounds the destinations of one profile; default 64.
	Max int
	// SaveEvery is how often changed profiles are written; default an
	// hour.
	SaveEvery time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// A Learner records the profiles of the devices being learned. It is a
// daemon task: Run saves what changed, now and then and when it stops.
type Learner struct {
	o     Options
	ready chan struct{}

	mu       sync.Mutex
	profiles map[string]*Profile
	dirty    map[string]bool
}

// Open loads the profiles kept in o.Dir. A file that cannot be read is
// logged and skipped: a profile is a proposal, never policy in force.
func Open(o Options) (*Learner, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Max <= 0 {
		o.Max = 64
	}
	if o.SaveEvery <= 0 {
		o.SaveEvery = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	l := &Learner{o: o, ready: make(chan struct{}), profiles: map[string]*Profile{}, dirty: map[string]bool{}}
	close(l.ready)
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create %s: %v", o.Dir, err)
	}
	files, err := filepath.Glob(filepath.Join(o.Dir, "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		var p Profile
		if err == nil {
			err = json.Unmarshal(b, &p)
		}
		if err == nil && (p.Device == "" || sanitise(p.Device)+".json" != filepath.Base(f)) {
			err = errors.New("names another device")
		}
		if err != nil {
			o.Log.Warn("skipping a learned profile that cannot be read", "file", f, "err", err)
			continue
		}
		l.profiles[p.Device] = &p
	}
	return l, nil
}

// Start begins learning a device for period, unless it is being learned
// or was learned already (its profile is kept until Forget).
func (l *Learner) Start(id, name string, period time.Duration) Profile {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p, ok := l.profiles[id]; ok {
		return clone(p)
	}
	now := l.o.Now()
	p := &Profile{Device: id, Name: name, Started: now, Until: now.Add(period)}
	l.profiles[id] = p
	l.dirty[id] = true
	return clone(p)
}

// Learning says whether a device is being learned now: the firewall logs
// its connections only then.
func (l *Learner) Learning(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.profiles[id]
	return ok && p.Learning(l.o.Now())
}

// Current lists the devices being learned now, in order, and says when
// the first of them stops being learned (zero: none is).
func (l *Learner) Current() (ids []string, next time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.o.Now()
	for id, p := range l.profiles {
		if !p.Learning(now) {
			continue
		}
		ids = append(ids, id)
		if next.IsZero() || p.Until.Before(next) {
			next = p.Until
		}
	}
	slices.Sort(ids)
	return ids, next
}

// Observe records a connection a device opened or another opened to it,
// if the device is being learned.
func (l *Learner) Observe(id string, f behaviour.Flow, at time.Time) {
	if f.Verdict != behaviour.Opened && f.Verdict != behaviour.Inbound {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.profiles[id]
	if !ok || !p.Learning(at) {
		return
	}
	d := Destination{Inbound: f.Verdict == behaviour.Inbound, Name: f.Name, Proto: f.Proto, Port: f.Port}
	if d.Name == "" || d.Inbound {
		// A name is what the device looked up to reach the other side;
		// for a connection to the device there is none to trust.
		d.Name, d.Addr = "", f.Addr.Unmap()
	}
	for i := range p.Destinations {
		e := &p.Destinations[i]
		if e.Inbound == d.Inbound && e.Name == d.Name && e.Addr == d.Addr && e.Proto == d.Proto && e.Port == d.Port {
			e.Count++
			e.Last = at
			// Counts change all the time; only new destinations are worth
			// a write to flash.
			return
		}
	}
	if len(p.Destinations) >= l.o.Max {
		if !p.Full {
			p.Full = true
			l.dirty[id] = true
		}
		return
	}
	d.Count, d.First, d.Last = 1, at, at
	p.Destinations = append(p.Destinations, d)
	l.dirty[id] = true
}

// Profile returns a device's profile.
func (l *Learner) Profile(id string) (Profile, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.profiles[id]
	if !ok {
		return Profile{}, false
	}
	return clone(p), true
}

// Forget drops a device's profile (it was removed, or its profile
// approved and kept as its MUD file).
func (l *Learner) Forget(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.profiles[id]; !ok {
		return nil
	}
	delete(l.profiles, id)
	delete(l.dirty, id)
	if err := os.Remove(l.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (l *Learner) path(id string) string { return filepath.Join(l.o.Dir, sanitise(id)+".json") }

func clone(p *Profile) Profile {
	c := *p
	c.Destinations = slices.Clone(p.Destinations)
	return c
}

// Save writes the profiles that changed.
func (l *Learner) Save() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for id := range l.dirty {
		p, ok := l.profiles[id]
		if !ok {
			delete(l.dirty, id)
			continue
		}
		b, err := json.MarshalIndent(p, "", "  ")
		if err == nil {
			_, err = fsutil.WriteFile(l.path(id), b, 0o600)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to save the learned profile of %s: %v", id, err))
			continue
		}
		delete(l.dirty, id)
	}
	return errors.Join(errs...)
}

// String implements the daemon's Task.
func (l *Learner) String() string { return "learned profiles" }

// Ready implements the daemon's Task: ready at once.
func (l *Learner) Ready() <-chan struct{} { return l.ready }

// Run saves what changed every SaveEvery, and once more when ctx ends.
func (l *Learner) Run(ctx context.Context) error {
	t := time.NewTicker(l.o.SaveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := l.Save(); err != nil {
				l.o.Log.Warn("learned profiles", "err", err)
			}
			return nil
		case <-t.C:
			if err := l.Save(); err != nil {
				l.o.Log.Warn("learned profiles", "err", err)
			}
		}
	}
}

// Describe says what a destination is, in plain words.
func (d Destination) Describe() string {
	proto := map[uint8]string{6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMPv6"}[d.Proto]
	if proto == "" {
		proto = fmt.Sprintf("protocol %d", d.Proto)
	}
	what := proto + fmt.Sprintf(" port %d", d.Port)
	if d.Proto == 1 || d.Proto == 58 {
		what = proto + fmt.Sprintf(" type %d", d.Port)
	}
	other := d.Name
	switch {
	case other != "":
	case d.Local():
		other = "the local network (" + d.Addr.String() + ")"
	default:
		other = d.Addr.String()
	}
	times := "once"
	if d.Count > 1 {
		times = fmt.Sprintf("%d times", d.Count)
	}
	if d.Inbound {
		return fmt.Sprintf("accepts connections from %s on its %s (%s)", other, what, times)
	}
	return fmt.Sprintf("connects to %s on %s (%s)", other, what, times)
}

// Describe says what the profile allows, one line per destination.
func (p Profile) Describe() []string {
	out := make([]string, 0, len(p.Destinations)+1)
	for _, d := range p.Destinations {
		out = append(out, d.Describe())
	}
	if p.Full {
		out = append(out, "and more, left out: the device used more destinations than a profile holds")
	}
	return out
}

// sanitise keeps an id usable as a file and URL name.
func sanitise(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
