package lifecycle

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// HostapdVLANs fits trustjoin's access points to the hostapd that is
// installed, again whenever the package database changes: the install
// left per_sta_vif out on a basic hostapd, and `opkg remove wpad-basic-
// mbedtls && opkg install wpad-mbedtls` runs nothing of trustjoin's (opkg
// has no triggers, and wpad's scripts only start hostapd). The package's
// script (also run by the install script) sets or removes per_sta_vif,
// writes only on a change and then reloads Wi-Fi. Polling is one stat of
// each database every five seconds (a change is acted on within ten);
// without the script (not OpenWrt) the task does nothing.
type HostapdVLANs struct {
	log    *slog.Logger
	script string
	every  time.Duration
	once   sync.Once
	ready  chan struct{}
}

// HostapdVLANsScript is the package's script (files/usr/libexec).
const HostapdVLANsScript = "/usr/libexec/trustjoin/hostapd-vlans"

// NewHostapdVLANs returns the task that runs script (HostapdVLANsScript on
// a router) at start and after every change of the package database.
func NewHostapdVLANs(log *slog.Logger, script string) *HostapdVLANs {
	return &HostapdVLANs{log: log, script: script, every: 5 * time.Second, ready: make(chan struct{})}
}

func (h *HostapdVLANs) String() string { return "hostapd variant" }

// Ready is closed once the first run is over, so that a daemon reported
// ready has fitted the access points to the hostapd of the moment.
func (h *HostapdVLANs) Ready() <-chan struct{} { return h.ready }

// Run implements daemon.Task.
func (h *HostapdVLANs) Run(ctx context.Context) error {
	defer h.once.Do(func() { close(h.ready) })
	if _, err := os.Stat(h.script); err != nil {
		h.once.Do(func() { close(h.ready) })
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(h.every)
	defer t.Stop()
	var p poll
	for {
		h.check(ctx, &p)
		h.once.Do(func() { close(h.ready) })
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// poll is what the checks saw of the package database: last at the
// previous check, done when the script last ran.
type poll struct {
	started    bool
	last, done [2]fileStamp
}

// check runs the script if the package database changed since the script
// last ran (at start: always) and has settled: opkg rewrites its status
// file in place, and a check in the middle would read half of it. A failed
// run is logged and not repeated until the database changes again (the
// script commits nothing half done).
func (h *HostapdVLANs) check(ctx context.Context, p *poll) {
	now := [2]fileStamp{stamp(opkgStatus), stamp(apkInstalled)}
	settled := !p.started || now == p.last
	p.started, p.last = true, now
	if !settled || now == p.done {
		return
	}
	p.done = now
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, h.script, "reload")
	cmd.Stdout, cmd.Stderr = &out, &out
	// procd preloads its line-buffering library into the daemon
	// (/lib/libsetlbf.so, for the log); the script's output is read here.
	cmd.Env = []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "LD_PRELOAD=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	err := cmd.Run()
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l != "" {
			h.log.Info("access points fitted to the installed hostapd", "script", h.script, "said", l)
		}
	}
	if err != nil {
		h.log.Warn("failed to fit the access points to the installed hostapd", "script", h.script, "err", err)
	}
}
