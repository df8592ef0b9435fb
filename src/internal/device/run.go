package device

import (
	"context"
	"sort"
	"time"
)

// Run restores every device's confinement (MUD policies from the cached
// files, so the manufacturers' servers need not answer), reports ready,
// then keeps MUD files fresh, follows changes made without waiting for
// them, and retries what failed to come into force, until ctx ends.
func (o *Owner) Run(ctx context.Context) error {
	if o.o.Firewall == nil && o.o.MUD != nil {
		o.log.Warn("no firewall to enforce MUD policies with: their status is recorded but devices are not confined by them")
	}
	devs := o.o.Registry.List()
	if o.o.MUD != nil {
		for _, d := range devs {
			o.refreshMUD(ctx, d.ID, false)
		}
	}
	o.syncAll(ctx)
	close(o.ready)
	o.log.Info("devices restored", "devices", len(devs))
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		o.mu.Lock()
		ids := o.dirty
		o.dirty = map[string]bool{}
		o.mu.Unlock()
		at := o.o.Now()
		retry, next := o.retries(at)
		for _, id := range retry {
			ids[id] = true
		}
		if o.o.MUD != nil {
			due, nextMUD := o.o.MUD.Due(at)
			for _, id := range due {
				ids[id] = true
			}
			if nextMUD.Before(next) {
				next = nextMUD
			}
		}
		for _, id := range sortedKeys(ids) {
			if ctx.Err() != nil {
				return nil
			}
			o.refresh(ctx, id, true)
		}
		wait := next.Sub(o.o.Now())
		if wait < time.Second {
			wait = time.Second
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-o.wake:
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
