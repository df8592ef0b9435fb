package alert

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Kind is what happened.
type Kind string

// The kinds of security event.
const (
	// Behaviour: a device kept trying what its policy forbids (the
	// segment's watch policy is notify).
	Behaviour Kind = "forbidden-traffic"
	// AutoQuarantine: the same, and the device was quarantined for it.
	AutoQuarantine Kind = "auto-quarantine"
	// UnknownDevice: a device the household did not onboard was seen (on
	// the shared password, wired, or on a segment not its own).
	UnknownDevice Kind = "unknown-device"
	// Expiring: a device's credential expires soon.
	Expiring Kind = "credential-expiring"
	// Expired: a device's credential expired and was withdrawn.
	Expired Kind = "credential-expired"
	// HookDenied: the authorisation hook refused a device or moved it.
	HookDenied Kind = "hook-denied"
	// HookFailed: the authorisation hook could not be asked.
	HookFailed Kind = "hook-failed"
	// MUDChanged: a device's MUD file changed.
	MUDChanged Kind = "mud-changed"
	// MUDSignature: a MUD file's signature did not verify.
	MUDSignature Kind = "mud-signature-failed"
)

// Event is one security event. It never holds a secret: what it names
// (a device, its MAC, a reason in plain words) is what the household sees
// in LuCI anyway.
type Event struct {
	// Seq numbers events from 1 since the daemon started; readers ask for
	// what came after the last one they saw.
	Seq  uint64    `json:"seq"`
	At   time.Time `json:"at"`
	Kind Kind      `json:"kind"`
	// Device and Name identify the household's device, if it is one.
	Device string `json:"device,omitempty"`
	Name   string `json:"name,omitempty"`
	MAC    string `json:"mac,omitempty"`
	// Message says what happened and what to do, in plain words.
	Message string `json:"message"`
}

// Sink is somewhere events go besides the log and the ring: ubus.
type Sink interface {
	Send(ctx context.Context, e Event) error
	String() string
}

// Counts are the events recorded since the daemon started.
type Counts struct {
	Total  uint64          `json:"total"`
	ByKind map[Kind]uint64 `json:"by_kind,omitempty"`
	// Dropped counts events the sinks never got because their queue was
	// full (the ring and the log had them).
	Dropped uint64 `json:"dropped,omitempty"`
}

// Options configure a Book.
type Options struct {
	Log *slog.Logger
	// Keep is how many recent events stay in RAM; default 100.
	Keep int
	// Sinks receive every event, in order, from Run.
	Sinks []Sink
	// Queue bounds the events waiting for the sinks; default 64.
	Queue int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// A Book records security events and hands them on. It is a daemon task:
// Run feeds the sinks. The zero value is not usable; use New.
type Book struct {
	o     Options
	log   *slog.Logger
	queue chan Event
	ready chan struct{}

	mu     sync.Mutex
	ring   []Event
	next   int
	counts Counts
}

// New returns a Book.
func New(o Options) *Book {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Keep <= 0 {
		o.Keep = 100
	}
	if o.Queue <= 0 {
		o.Queue = 64
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	b := &Book{o: o, log: o.Log, queue: make(chan Event, o.Queue), ready: make(chan struct{})}
	b.counts.ByKind = map[Kind]uint64{}
	close(b.ready)
	return b
}

// Record notes an event: it gets its number and time, is logged, kept and
// queued for the sinks. It never blocks.
func (b *Book) Record(e Event) Event {
	b.mu.Lock()
	b.counts.Total++
	b.counts.ByKind[e.Kind]++
	e.Seq = b.counts.Total
	if e.At.IsZero() {
		e.At = b.o.Now()
	}
	if len(b.ring) < b.o.Keep {
		b.ring = append(b.ring, e)
	} else {
		b.ring[b.next] = e
		b.next = (b.next + 1) % b.o.Keep
	}
	if len(b.o.Sinks) > 0 {
		select {
		case b.queue <- e:
		default:
			b.counts.Dropped++
		}
	}
	b.mu.Unlock()
	args := []any{"event", e.Kind, "seq", e.Seq}
	if e.Device != "" {
		args = append(args, "device", e.Device)
	}
	if e.Name != "" {
		args = append(args, "name", e.Name)
	}
	if e.MAC != "" {
		args = append(args, "mac", e.MAC)
	}
	b.log.Warn("security event: "+e.Message, args...)
	return e
}

// Recordf is Record with the message formatted.
func (b *Book) Recordf(kind Kind, device, name, mac, format string, args ...any) Event {
	return b.Record(Event{Kind: kind, Device: device, Name: name, MAC: mac, Message: fmt.Sprintf(format, args...)})
}

// Since returns the events kept whose number is above seq, oldest first.
func (b *Book) Since(seq uint64) []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Event, 0, len(b.ring))
	for i := range b.ring {
		e := b.ring[(b.next+i)%len(b.ring)]
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out
}

// Counts returns the counters.
func (b *Book) Counts() Counts {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.counts
	c.ByKind = make(map[Kind]uint64, len(b.counts.ByKind))
	for k, v := range b.counts.ByKind {
		c.ByKind[k] = v
	}
	return c
}

// String implements the daemon's Task.
func (b *Book) String() string { return "security events" }

// Ready implements the daemon's Task: a Book is ready at once.
func (b *Book) Ready() <-chan struct{} { return b.ready }

// sendTimeout bounds one event's delivery to one sink.
const sendTimeout = 5 * time.Second

// Run hands queued events to the sinks until ctx is cancelled. A sink
// that fails is logged and the event goes on to the next; a sink is never
// retried for the same event (events are news, not state: the ring and
// the counters keep them).
func (b *Book) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-b.queue:
			for _, s := range b.o.Sinks {
				sctx, cancel := context.WithTimeout(ctx, sendTimeout)
				if err := s.Send(sctx, e); err != nil && ctx.Err() == nil {
					b.log.Warn("failed to send security event", "to", s.String(), "seq", e.Seq, "err", err)
				}
				cancel()
			}
		}
	}
}
