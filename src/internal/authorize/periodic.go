package authorize

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// Recheck asks the hook about every device again, every Interval: a
// device's attestation may be withdrawn after it joined (S4.C8). It is a
// daemon task.
type Recheck struct {
	Hook     *Hook
	Interval time.Duration
	Log      *slog.Logger
	// Devices lists the devices holding a credential.
	Devices func() []Device
	// Act is told each decision that changes something: a deny, or a
	// segment other than the device's. It must not block for long.
	Act func(ctx context.Context, d Device, dec Decision)
	// Failed is told when the hook fails; the round stops there (a broken
	// hook fails for every device) and nothing changes.
	Failed func(err error)
}

// String implements the daemon's Task.
func (p *Recheck) String() string { return "authorisation hook" }

var ready = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Ready implements the daemon's Task: ready at once.
func (p *Recheck) Ready() <-chan struct{} { return ready }

// Run checks every Interval until ctx is cancelled.
func (p *Recheck) Run(ctx context.Context) error {
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			p.Round(ctx)
		}
	}
}

// Round asks the hook about each device once.
func (p *Recheck) Round(ctx context.Context) {
	log := p.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, d := range p.Devices() {
		if ctx.Err() != nil {
			return
		}
		dec := p.Hook.Decide(ctx, Request{When: Periodic, Device: d})
		switch {
		case dec.NoHook:
			return
		case dec.Failed != nil:
			log.Warn("authorisation hook failed; devices keep their standing", "err", dec.Failed)
			if p.Failed != nil {
				p.Failed(dec.Failed)
			}
			return
		case dec.Verdict == Deny, dec.Verdict == Move && dec.Segment != d.Segment:
			p.Act(ctx, d, dec)
		}
	}
}
