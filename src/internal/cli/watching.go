package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/alert"
	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/authorize"
	"github.com/trustjoin/trustjoin/src/internal/behaviour"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/daemon"
	"github.com/trustjoin/trustjoin/src/internal/device"
	"github.com/trustjoin/trustjoin/src/internal/firewall"
	"github.com/trustjoin/trustjoin/src/internal/inventory"
	"github.com/trustjoin/trustjoin/src/internal/mudlearn"
	"github.com/trustjoin/trustjoin/src/internal/registry"
	"github.com/trustjoin/trustjoin/src/internal/watch"
)

// watchOwner is the device owner as package watch asks for it: every
// change it makes is trustjoin's own (device.System). The reason goes with
// the security event the Watch records.
type watchOwner struct{ d *device.Owner }

func (w watchOwner) Devices() []registry.Device { return w.d.Devices() }

func (w watchOwner) Quarantine(ctx context.Context, id, why string) error {
	_, err := w.d.QuarantineBecause(ctx, id, why, device.System)
	return err
}

func (w watchOwner) Move(ctx context.Context, id, segment, _ string) error {
	_, err := w.d.Move(ctx, id, segment, device.System)
	return err
}

func (w watchOwner) Expire(ctx context.Context, id, why string) error {
	_, err := w.d.Expire(ctx, id, why)
	return err
}

func (w watchOwner) Remove(ctx context.Context, id, _ string) error {
	_, err := w.d.Remove(ctx, id, device.System)
	return err
}

// radios refuses a station on every access point through hostapd's deny
// list (adding a station to it also disconnects it).
type radios []credential.AccessPoint

func (r radios) do(ctx context.Context, cmd string) error {
	var errs []error
	for _, ap := range r {
		out, err := ap.Ctrl.Command(ctx, cmd)
		if err == nil && strings.TrimSpace(out) != "OK" {
			err = fmt.Errorf("hostapd answered %q", strings.TrimSpace(out))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ap.Ifname, err))
		}
	}
	return errors.Join(errs...)
}

// The MAC address was parsed and printed by package watch: one token.
func (r radios) Deny(ctx context.Context, mac string) error {
	return r.do(ctx, "DENY_ACL ADD_MAC "+mac)
}

func (r radios) Undeny(ctx context.Context, mac string) error {
	return r.do(ctx, "DENY_ACL DEL_MAC "+mac)
}

// newBook is where the security events are recorded, for as long as the
// daemon runs: one for every configuration it runs in turn.
func newBook(log *slog.Logger) *alert.Book {
	return alert.New(alert.Options{Log: log, Sinks: []alert.Sink{&alert.Ubus{}}})
}

// newWatch wires what looks after devices once onboarded. restored is
// closed once the device owner has restored every device's confinement:
// the unknown devices the household acted on are confined again after.
func newWatch(log *slog.Logger, cfg *config.Config, book *alert.Book, devices *device.Owner, fw *firewall.Enforcer, aps []credential.AccessPoint) (*watch.Watch, []daemon.Task, error) {
	learner, err := mudlearn.Open(mudlearn.Options{Log: log, Dir: filepath.Join(cfg.Main.StateDir, "learned")})
	if err != nil {
		return nil, nil, err
	}
	onFailure := authorize.Deny
	if cfg.Authorize.FailOpen {
		onFailure = authorize.Allow
	}
	hook := &authorize.Hook{Path: cfg.Authorize.Hook, Timeout: cfg.Authorize.Timeout, OnFailure: onFailure,
		Segment: func(name string) bool { _, ok := cfg.SegmentByName(name); return ok }}
	// Where to look for unknown devices: the access points themselves
	// (the household's network, its shared password) and each segment's
	// interfaces and bridge.
	look := map[string]string{}
	var names []string
	for _, ap := range aps {
		look[ap.Ifname] = ""
		names = append(names, ap.Ifname)
	}
	for _, s := range cfg.Segments {
		for _, i := range config.SegmentInterfaces(s, names) {
			look[i] = s.Name
		}
	}
	o := watch.Options{
		Log: log, Config: cfg, Owner: watchOwner{devices}, Book: book, Learner: learner, Hook: hook,
		Inventory:   inventory.Options{Watch: look},
		HandledFile: filepath.Join(cfg.Main.StateDir, "unknown-handled.json"),
	}
	if fw != nil {
		o.Firewall, o.Connections = fw, fw
	}
	if len(aps) > 0 {
		o.Radios = radios(aps)
	}
	w := watch.New(o)
	var tasks []daemon.Task
	for _, t := range w.Tasks() {
		tasks = append(tasks, t)
	}
	if fw != nil {
		// What the firewall logs: drops and connections (headers), and
		// the router's DNS answers (whole).
		g := uint16(cfg.Watch.LogGroup)
		for _, f := range []*behaviour.Feed{
			{Log: log, Group: g, CopyRange: 128, Handle: w.Recorder().Handle},
			{Log: log, Group: g + 1, CopyRange: 2048, Handle: w.Recorder().Handle},
		} {
			tasks = append(tasks, newFeedTask(log, f))
		}
	}
	tasks = append(tasks, daemon.Func("unknown devices acted on", func(ctx context.Context) error {
		select {
		case <-devices.Ready():
		case <-ctx.Done():
			return nil
		}
		if err := w.RestoreHandled(ctx); err != nil {
			log.Error("failed to block or confine again the unknown devices the household acted on", "err", err)
		}
		<-ctx.Done()
		return nil
	}))
	return w, tasks, nil
}

// withWatch and withPhoneWatch give a wrapped service back the watch
// calls its wrapper does not pass on.
type withWatch struct {
	api.Service
	api.WatchService
}

type withPhoneWatch struct {
	withWatch
	api.PhoneService
}

// feedTask reads an NFLOG group for the behaviour recorder. A group it
// cannot have (another program has it, or the kernel lacks
// nfnetlink_log) is said loudly and tried again, never stopping the
// daemon: devices stay confined, only not watched. It is ready once
// bound, or once binding first failed.
type feedTask struct {
	log   *slog.Logger
	f     *behaviour.Feed
	ready chan struct{}
}

func newFeedTask(log *slog.Logger, f *behaviour.Feed) *feedTask {
	return &feedTask{log: log, f: f, ready: make(chan struct{})}
}

func (t *feedTask) String() string         { return t.f.String() }
func (t *feedTask) Ready() <-chan struct{} { return t.ready }

func (t *feedTask) Run(ctx context.Context) error {
	var once sync.Once
	ready := func() { once.Do(func() { close(t.ready) }) }
	go func() {
		select {
		case <-t.f.Ready():
			ready()
		case <-ctx.Done():
		}
	}()
	for {
		err := t.f.Run(ctx)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		ready()
		t.log.Error("devices are not watched: failed to read what the firewall logs; trying again in a minute", "group", t.f.Group, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Minute):
		}
	}
}
