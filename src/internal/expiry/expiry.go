package expiry

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Credential is a device's credential with a lifetime.
type Credential struct {
	Device string
	Name   string
	// Issued is when the credential was made; Lifetime how long it lasts.
	// A zero Lifetime never expires.
	Issued   time.Time
	Lifetime time.Duration
}

// Expires is when the credential expires; zero for never.
func (c Credential) Expires() time.Time {
	if c.Lifetime <= 0 || c.Issued.IsZero() {
		return time.Time{}
	}
	return c.Issued.Add(c.Lifetime)
}

// Options configure a Clock.
type Options struct {
	Log *slog.Logger
	// Credentials lists the credentials in force.
	Credentials func() []Credential
	// Warning is how long before expiry OnWarn is told; zero: no warning.
	Warning time.Duration
	// OnWarn is told once per credential (per run of the daemon) that it
	// expires soon; OnExpire that it has expired. OnExpire is told again
	// at the next check if the credential is still listed (its withdrawal
	// failed).
	OnWarn   func(c Credential)
	OnExpire func(c Credential)
	// MaxSleep bounds how long the clock sleeps without looking again;
	// default a minute (a device added in between is seen then, or at
	// once with Wake).
	MaxSleep time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// A Clock warns of and expires credentials. It is a daemon task.
type Clock struct {
	o     Options
	wake  chan struct{}
	ready chan struct{}

	mu sync.Mutex
	// warned holds the expiry each device was warned of: a new credential
	// (a new expiry) is warned of again.
	warned map[string]time.Time
}

// New returns a Clock.
func New(o Options) *Clock {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxSleep <= 0 {
		o.MaxSleep = time.Minute
	}
	c := &Clock{o: o, wake: make(chan struct{}, 1), ready: make(chan struct{}), warned: map[string]time.Time{}}
	close(c.ready)
	return c
}

// Wake makes the clock look again now: a credential was added or its
// lifetime changed.
func (c *Clock) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// String implements the daemon's Task.
func (c *Clock) String() string { return "credential lifetimes" }

// Ready implements the daemon's Task: ready at once.
func (c *Clock) Ready() <-chan struct{} { return c.ready }

// Check warns of and expires what is due now, and returns when the next
// thing falls due (zero: nothing will).
func (c *Clock) Check() time.Time {
	now := c.o.Now()
	var next time.Time
	soonest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	var warn, expire []Credential
	c.mu.Lock()
	listed := map[string]bool{}
	for _, cr := range c.o.Credentials() {
		exp := cr.Expires()
		if exp.IsZero() {
			continue
		}
		listed[cr.Device] = true
		switch {
		case !now.Before(exp):
			expire = append(expire, cr)
		case c.o.Warning > 0 && !now.Before(exp.Add(-c.o.Warning)):
			if c.warned[cr.Device] != exp {
				c.warned[cr.Device] = exp
				warn = append(warn, cr)
			}
			soonest(exp)
		case c.o.Warning > 0:
			soonest(exp.Add(-c.o.Warning))
		default:
			soonest(exp)
		}
	}
	for id := range c.warned {
		if !listed[id] {
			delete(c.warned, id)
		}
	}
	c.mu.Unlock()
	for _, cr := range warn {
		c.o.Log.Info("credential expires soon", "device", cr.Device, "expires", cr.Expires().Format(time.RFC3339))
		if c.o.OnWarn != nil {
			c.o.OnWarn(cr)
		}
	}
	for _, cr := range expire {
		c.o.Log.Info("credential expired", "device", cr.Device, "expired", cr.Expires().Format(time.RFC3339))
		if c.o.OnExpire != nil {
			c.o.OnExpire(cr)
		}
	}
	if len(expire) > 0 {
		// Withdrawing may fail; look again soon.
		soonest(now.Add(c.o.MaxSleep))
	}
	return next
}

// Run checks whenever something falls due, on Wake, and at least every
// MaxSleep, until ctx is cancelled.
func (c *Clock) Run(ctx context.Context) error {
	for {
		next := c.Check()
		sleep := c.o.MaxSleep
		if !next.IsZero() {
			sleep = min(sleep, max(next.Sub(c.o.Now()), time.Second))
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-c.wake:
		case <-t.C:
		}
		t.Stop()
	}
}
