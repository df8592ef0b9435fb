package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/trustjoin/trustjoin/src/internal/alert"
	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/authorize"
	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/device"
	"github.com/trustjoin/trustjoin/src/internal/dpp"
	"github.com/trustjoin/trustjoin/src/internal/firewall"
	"github.com/trustjoin/trustjoin/src/internal/fsutil"
	"github.com/trustjoin/trustjoin/src/internal/hostapd"
	"github.com/trustjoin/trustjoin/src/internal/lifecycle"
	"github.com/trustjoin/trustjoin/src/internal/mud"
	"github.com/trustjoin/trustjoin/src/internal/mudlearn"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
	"github.com/trustjoin/trustjoin/src/internal/registry"
	"github.com/trustjoin/trustjoin/src/internal/watch"
	"github.com/trustjoin/trustjoin/src/internal/web"

	"github.com/trustjoin/trustjoin/src/internal/build"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/daemon"
)

func init() {
	commands["daemon"] = command{summary: "run the trustjoin daemon", run: runDaemon}
}

// defaultLastGood is where the daemon keeps the last valid configuration.
const defaultLastGood = "/etc/trustjoin/last-good.uci"

func runDaemon(ctx context.Context, env Env) int {
	fs := newFlags("daemon", env)
	path := fs.String("config", config.DefaultPath, "UCI configuration `file`")
	useSyslog := fs.Bool("syslog", false, "log to syslog instead of stderr")
	lastGood := fs.String("last-good", defaultLastGood, "where to keep the last configuration that was valid")
	if err := fs.Parse(env.Args); err != nil {
		return 2
	}

	var level slog.LevelVar
	out := env.Stderr
	if *useSyslog {
		w, err := daemon.SyslogWriter()
		if err != nil {
			fmt.Fprintf(env.Stderr, "trustjoin: failed to open syslog: %v\n", err)
			return 1
		}
		out = w
	}
	log := daemon.NewLogger(out, &level)
	log.Info("starting", "version", build.Version, "config", *path)

	notify := daemon.SystemdNotify(log)
	// Every configuration that was set up is kept as the last good one; the
	// daemon falls back to it at start-up if the file has gone bad since.
	raw := map[*config.Config][]byte{}
	load := func() (*config.Config, error) {
		b, err := os.ReadFile(*path)
		if err != nil {
			return nil, fmt.Errorf("failed to read config: %v", err)
		}
		cfg, err := config.Parse(*path, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		raw[cfg] = b
		return cfg, nil
	}
	var srv *daemon.Server
	// Phone links and sessions outlive reloads: saving a setting must not
	// cut off a phone in the middle of adding a device.
	phones := web.NewState(nil)
	// Security events too: their numbers go on across reloads, so a
	// reader asking for those after the last it saw (an ACS, LuCI) misses
	// none.
	book := newBook(log)
	// And the count of failed onboardings the status reports.
	failures := new(atomic.Uint64)
	build := func(cfg *config.Config) ([]daemon.Task, error) {
		tasks, err := buildTasks(log, cfg, notify, srv.Status, phones, book, failures)
		if b, ok := raw[cfg]; ok && err == nil {
			if _, err := fsutil.WriteFile(*lastGood, b, 0o600); err != nil {
				log.Warn("failed to keep a copy of the good configuration", "err", err)
			}
		}
		// Serve runs load and build in one goroutine; drop what was used.
		for c := range raw {
			if c != cfg {
				delete(raw, c)
			}
		}
		return tasks, err
	}
	srv = daemon.NewServer(log, &level, load, build, notify)
	srv.Fallback = func() (*config.Config, error) { return config.Load(*lastGood) }

	sigC := make(chan os.Signal, 1)
	signal.Notify(sigC, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigC)
	if err := srv.Serve(ctx, sigC); err != nil {
		log.Error("daemon failed", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// buildTasks wires the subsystems the configuration asks for.
func buildTasks(log *slog.Logger, cfg *config.Config, notify func(string), status func() daemon.Status, phones *web.State, book *alert.Book, failures *atomic.Uint64) ([]daemon.Task, error) {
	// The state folder holds secrets: root's alone when trustjoin makes it
	// (the package makes it 0710 root:network, so that OpenWrt's hostapd,
	// user network, reaches the PSK and VLAN files; that stays as it is).
	if err := os.MkdirAll(cfg.Main.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create %s: %v", cfg.Main.StateDir, err)
	}
	// The run folder holds the root-only API socket (mode 0600) and the
	// sockets hostapd answers on; OpenWrt's hostapd runs as user network,
	// so it must be able to pass through (0711: not list, not create),
	// also when an older trustjoin made the folder 0700.
	if err := os.MkdirAll(cfg.Main.RunDir, 0o711); err != nil {
		return nil, fmt.Errorf("failed to create %s: %v", cfg.Main.RunDir, err)
	}
	if err := os.Chmod(cfg.Main.RunDir, 0o711); err != nil {
		return nil, fmt.Errorf("failed to set the mode of %s: %v", cfg.Main.RunDir, err)
	}
	tasks := []daemon.Task{daemon.NewWatchdog(log, notify)}
	// per_sta_vif follows the hostapd installed (also while disabled: on a
	// basic hostapd it would leave every station of the access point
	// unbridged).
	tasks = append(tasks, lifecycle.NewHostapdVLANs(log, lifecycle.HostapdVLANsScript))
	reg, err := registry.Open(filepath.Join(cfg.Main.StateDir, "devices.json"), log)
	if err != nil {
		return nil, err
	}
	engine := dpp.New(dpp.Options{
		Log:          log,
		StateDir:     cfg.Main.StateDir,
		Conf:         "sta-" + string(cfg.Onboarding.AKM),
		Timeout:      cfg.Onboarding.Timeout,
		PKEXAttempts: cfg.Onboarding.PKEXAttempts,
		PKEXWindow:   cfg.Onboarding.PKEXWindow,
	})
	o := device.Options{Log: log, Registry: reg, Segments: cfg.Segments, DefaultSegment: cfg.Onboarding.DefaultSegment, Radio: engine}
	var (
		aps []config.Wifi
		fw  *firewall.Enforcer
	)
	if !cfg.Main.Enabled {
		log.Warn("disabled in the configuration (main.enabled '0'): onboarding and enforcement are off")
	} else {
		aps = accessPoints(log, cfg)
		// Access points sharing a PSK file share its lock.
		files := map[string]*credential.PSKFile{}
		for _, w := range aps {
			psk := files[w.PSKFile]
			if psk == nil {
				psk = credential.Open(w.PSKFile)
				files[w.PSKFile] = psk
			}
			engine.AddBSS(w.Ifname, nil, psk)
			m := &hostapd.Monitor{
				Iface: w.Ifname, CtrlDir: cfg.Main.HostapdCtrlDir, LocalDir: cfg.Main.RunDir, Log: log,
				OnEvent:      engine.HandleEvent,
				OnDisconnect: func() { engine.Detach(w.Ifname) },
			}
			m.OnConnect = func(ctx context.Context, c *hostapd.Client) error {
				return engine.Attach(ctx, w.Ifname, c)
			}
			engine.SetCtrl(w.Ifname, m)
			o.AccessPoints = append(o.AccessPoints, credential.AccessPoint{Ifname: w.Ifname, File: psk, Ctrl: m})
			// hostapd may start after trustjoin: its monitor is not waited
			// for before reporting ready, it connects when hostapd is up.
			tasks = append(tasks, daemon.Func(m.String(), m.Run))
		}
		tasks = append(tasks, daemon.Func("onboarding", engine.Run))
		if err := plumbSegments(log, cfg); err != nil {
			return nil, err
		}
		// The device owner hands every device's segment, quarantine and
		// MUD policy to the firewall, even with MUD itself turned off.
		if cfg.Main.Firewall {
			if fw, err = newFirewall(log, cfg, aps); err != nil {
				return nil, err
			}
			o.Firewall = fw
		} else {
			log.Warn("firewall turned off (main.firewall '0'): devices keep their own credentials and VLANs, but nothing filters their traffic")
		}
		if o.MUD, err = mudManager(log, cfg); err != nil {
			return nil, err
		}
	}
	// The Watch hears of every change to a device once it is saved.
	var w *watch.Watch
	o.Observe = func(c device.Change) {
		if c.Kind == device.OnboardingFailed && c.Before.Onboarding != nil && c.After.Onboarding == nil {
			failures.Add(1)
		}
		if w != nil {
			w.Changed(c.Before, c.After)
		}
	}
	// The authorisation hook is asked before a pre-authorised device is
	// listened for and before a device is given a passphrase of its own.
	o.Authorize = func(ctx context.Context, a device.Authorization) (string, error) {
		if w == nil {
			return a.Segment, nil
		}
		return w.Admit(ctx, authorize.Device{Name: a.Name, Segment: a.Segment, DPPKeyHash: a.KeyHash, Via: a.Via})
	}
	devices := device.New(o)
	engine.SetDevices(devices)
	if len(cfg.Incomplete) > 0 {
		log.Info("sections without any option skipped (being added)", "sections", cfg.Incomplete)
	}
	tasks = append(tasks, devices)
	if fw != nil {
		tasks = append(tasks, firewallTask(log, fw, devices.Ready()))
	}
	lc := lifecycle.New(devices, engine, status)
	lc.SetOnboardingFailures(failures.Load)
	if fw != nil {
		lc.SetFirewall(fw)
	}
	if cfg.Main.Enabled {
		var wt []daemon.Task
		if w, wt, err = newWatch(log, cfg, book, devices, fw, o.AccessPoints); err != nil {
			return nil, err
		}
		tasks = append(tasks, wt...)
		lc.SetWatch(w, cfg.Onboarding.DefaultSegment)
	}
	// Before any task runs, once the hook can be asked: a bad entry
	// rejects the configuration (and the one before, set up again, puts
	// its own entries back).
	preauths := make([]device.PreauthEntry, len(cfg.Preauths))
	for i, p := range cfg.Preauths {
		preauths[i] = device.PreauthEntry{URI: p.URI, Segment: p.Segment, Name: p.Name, Section: p.Section}
	}
	if err := devices.SyncPreauths(context.Background(), preauths); err != nil {
		return nil, err
	}
	if cfg.Main.Enabled && cfg.BRSKI.Enabled {
		bt, err := brskiTasks(log, cfg.BRSKI, lc, w)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, bt...)
	}
	var svc api.Service = lc
	if cfg.Web.Enabled {
		wo := web.Options{Log: log, Listen: cfg.Web.Listen, TokenTTL: cfg.Web.TokenTTL, Onboarder: svc, State: phones}
		if cfg.Onboarding.LegacyPassphrase {
			wo.Legacy = devices
		}
		ws, err := web.New(wo)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, ws)
		svc = web.WithPhone(svc, ws)
		// The phone pages' wrapper passes api.Service on, not the watch.
		svc = withPhoneWatch{withWatch{svc, lc}, svc.(api.PhoneService)}
	}
	tasks = append(tasks, api.NewSocketServer(log, cfg.Main.APISocket, api.NewHandler(log, svc)))
	return tasks, nil
}

// accessPoints returns the configured access points or, without any wifi
// section, those found now (hostapd's control sockets and nl80211).
func accessPoints(log *slog.Logger, cfg *config.Config) []config.Wifi {
	if len(cfg.Wifi) > 0 {
		return cfg.Wifi
	}
	aps, err := hostapd.Discover(cfg.Main.HostapdCtrlDir)
	if err != nil {
		log.Warn("failed to look for access points", "dir", cfg.Main.HostapdCtrlDir, "err", err)
	}
	var out []config.Wifi
	for _, ap := range aps {
		if !ap.Socket {
			log.Warn("access point without a hostapd control socket: trustjoin cannot onboard on it", "iface", ap.Ifname, "dir", cfg.Main.HostapdCtrlDir)
			continue
		}
		log.Info("found access point", "iface", ap.Ifname, "nl80211", ap.Radio)
		out = append(out, config.Wifi{Name: ap.Ifname, Ifname: ap.Ifname, PSKFile: filepath.Join(cfg.Main.StateDir, "psk", ap.Ifname+".psk")})
	}
	if len(out) == 0 {
		log.Warn("no access point found: is hostapd running? Add a wifi section to /etc/config/trustjoin to wait for one", "dir", cfg.Main.HostapdCtrlDir)
	}
	return out
}

// mudManager wires MUD retrieval and signature checking.
func mudManager(log *slog.Logger, cfg *config.Config) (*mudpolicy.Manager, error) {
	// An unusable trust anchor (not there yet, not PEM) does not stop the
	// daemon: signatures that need it fail to verify, which is the safe
	// side (their files wait for approval or are refused), and an ACS may
	// push the anchor after the configuration naming it.
	var usable []string
	for _, p := range cfg.MUD.TrustAnchors {
		if _, err := mud.LoadTrustAnchors([]string{p}); err != nil {
			log.Error("MUD trust anchor unusable: signatures that need it cannot be verified", "err", err)
			continue
		}
		usable = append(usable, p)
	}
	var anchors *x509.CertPool
	if len(usable) > 0 {
		var err error
		if anchors, err = mud.LoadTrustAnchors(usable); err != nil {
			return nil, err
		}
	} else {
		log.Warn("no usable MUD trust anchor (mud.trust_anchor): no MUD signature can be verified", "signature_policy", cfg.MUD.SignaturePolicy)
	}
	// Without a firewall (main.firewall '0') the device owner still has
	// each device's MUD file fetched, checked and its status recorded, but
	// confines no device, and says so in the log and in every enforced
	// device's status.
	return mudpolicy.New(mudpolicy.Options{
		// Learned profiles the householder approved are served from the
		// router's flash, makers' files fetched.
		Source: &mudlearn.Source{Dir: filepath.Join(cfg.Main.StateDir, "learned"), MaxSize: cfg.MUD.MaxSize, Next: &mud.Fetcher{
			Dir:     filepath.Join(cfg.Main.StateDir, "mud"),
			MaxSize: cfg.MUD.MaxSize,
			Timeout: cfg.MUD.FetchTimeout,
		}},
		Off:     !cfg.MUD.Enabled,
		Policy:  cfg.MUD.SignaturePolicy,
		Anchors: anchors,
	}), nil
}
