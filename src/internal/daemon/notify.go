package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// SystemdNotify sends state to systemd when the daemon runs under a
// Type=notify unit, and does nothing elsewhere (procd has no such socket).
func SystemdNotify(log *slog.Logger) func(string) {
	return func(state string) {
		if _, err := daemon.SdNotify(false, state); err != nil {
			log.Warn("failed to notify systemd", "state", state, "err", err)
		}
	}
}

// A Watchdog pets systemd's watchdog at half its interval while the daemon's
// main loop is alive; without WatchdogSec it is ready and idle.
type Watchdog struct {
	log    *slog.Logger
	notify func(string)
	ready  chan struct{}
}

// NewWatchdog returns a Watchdog task using notify to reach systemd.
func NewWatchdog(log *slog.Logger, notify func(string)) *Watchdog {
	return &Watchdog{log: log, notify: notify, ready: make(chan struct{})}
}

// String implements Task.
func (*Watchdog) String() string { return "watchdog" }

// Ready implements Task.
func (w *Watchdog) Ready() <-chan struct{} { return w.ready }

// Run implements Task.
func (w *Watchdog) Run(ctx context.Context) error {
	close(w.ready)
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.notify("WATCHDOG=1")
		}
	}
}
