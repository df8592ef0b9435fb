package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/config"
)

func init() {
	commands["status"] = command{summary: "show the daemon, radios and DPP support", run: runStatus}
	commands["devices"] = command{summary: "list onboarded devices", run: runDevices}
	commands["device"] = command{summary: "show one device (by id or name)", run: runDevice}
	commands["onboard"] = command{summary: "onboard a device: --qr URI or --pkex CODE", run: runOnboard}
	commands["remove"] = command{summary: "remove a device: its credential stops working", run: runRemove}
	commands["rotate"] = command{summary: "give a device a fresh credential", run: runRotate}
	commands["preauth"] = command{summary: "pre-authorise devices: add URI | list | remove ID", run: runPreauth}
}

// clientFlags are the options every API-calling command takes.
type clientFlags struct {
	fs       *flag.FlagSet
	config   *string
	lastGood *string
	socket   *string
	json     *bool
	timeout  *time.Duration
}

func newClientFlags(name string, env Env) *clientFlags {
	fs := newFlags(name, env)
	return &clientFlags{
		fs:       fs,
		config:   fs.String("config", config.DefaultPath, "UCI configuration `file` (to find the API socket)"),
		lastGood: fs.String("last-good", defaultLastGood, "the daemon's last valid configuration `file` (its socket, when the configuration was refused)"),
		socket:   fs.String("socket", "", "API socket `path` (overrides the configuration)"),
		json:     fs.Bool("json", false, "print JSON for scripts"),
		timeout:  fs.Duration("timeout", 15*time.Second, "give up after this long"),
	}
}

func (f *clientFlags) client() (*api.Client, error) {
	if *f.socket != "" {
		return api.NewClient(*f.socket), nil
	}
	cfg, err := config.Load(*f.config)
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("%w: %s is root's: run this as root", api.ErrPermission, *f.config)
	}
	if err != nil {
		// A configuration the daemon refused leaves it running on the last
		// good one, whose socket is named there: status must still reach
		// it, to say why (as the rpcd plugin does).
		if lg, lgErr := config.Load(*f.lastGood); lgErr == nil {
			return api.NewClient(lg.Main.APISocket), nil
		}
		return nil, err
	}
	return api.NewClient(cfg.Main.APISocket), nil
}

// call runs one API call and prints its result: JSON with --json, else
// through human.
func (f *clientFlags) call(ctx context.Context, env Env, method, path string, body, out any, human func(w io.Writer)) int {
	c, err := f.client()
	if err != nil {
		fmt.Fprintf(env.Stderr, "trustjoin: %s\n", esc(err.Error()))
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, *f.timeout)
	defer cancel()
	if err := c.Do(ctx, method, path, body, out); err != nil {
		fmt.Fprintf(env.Stderr, "trustjoin: %s\n", esc(err.Error()))
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status < 500 {
			return 2
		}
		return 1
	}
	if *f.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return 0
	}
	human(env.Stdout)
	return 0
}

func runStatus(ctx context.Context, env Env) int {
	f := newClientFlags("status", env)
	if f.fs.Parse(env.Args) != nil {
		return 2
	}
	var s api.Status
	return f.call(ctx, env, "GET", "/v1/status", nil, &s, func(w io.Writer) {
		ready := "starting"
		if s.Ready {
			ready = "ready"
		}
		fmt.Fprintf(w, "trustjoin %s: %s\n", s.Version, ready)
		if s.Config.Rejected != "" {
			fmt.Fprintf(w, "configuration: last change REJECTED, the previous one stays in force:\n  %s\n", esc(s.Config.Rejected))
		}
		if len(s.Radios) == 0 {
			fmt.Fprintln(w, "radios: no access point found (is hostapd running?)")
		}
		for _, r := range s.Radios {
			dpp := fmt.Sprintf("DPP version %d", r.DPPVersion)
			if !r.DPP {
				dpp = "NO DPP"
			}
			fmt.Fprintf(w, "radio %s: ssid %q, %d MHz, %s\n", esc(r.Ifname), r.SSID, r.Freq, dpp)
			if r.Problem != "" {
				fmt.Fprintf(w, "  problem: %s\n  fix: %s\n", esc(r.Problem), esc(r.Fix))
			}
		}
		if h := s.Hostapd; h.Problem != "" {
			fmt.Fprintf(w, "hostapd: %s\n  fix: %s\n", esc(h.Problem), esc(h.Fix))
		}
		c := s.Counters
		fmt.Fprintf(w, "devices: %d onboarded, %d connected, %d quarantined, %d to scan again (rotated or expired); %d failed onboardings\n",
			c.Onboarded, c.Connected, c.Quarantined, c.NeedsReonboarding, c.OnboardingFailures)
	})
}

func runDevices(ctx context.Context, env Env) int {
	f := newClientFlags("devices", env)
	if f.fs.Parse(env.Args) != nil {
		return 2
	}
	var r struct {
		Devices []api.Device `json:"devices"`
	}
	return f.call(ctx, env, "GET", "/v1/devices", nil, &r, func(w io.Writer) {
		if len(r.Devices) == 0 {
			fmt.Fprintln(w, "no devices yet: add one with 'trustjoin onboard --qr URI'")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSEGMENT\tSTATE\tLAST SEEN\tMUD")
		for _, d := range r.Devices {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", esc(d.ID), esc(d.Name), esc(d.Segment), esc(d.State), seen(d), esc(mudShort(d.MUD)))
		}
		tw.Flush()
	})
}

func seen(d api.Device) string {
	switch {
	case d.Connected:
		return "now"
	case d.LastSeen == nil:
		return "never"
	}
	return d.LastSeen.Local().Format("2006-01-02 15:04")
}

func mudShort(m api.MUDStatus) string {
	if m.URL == "" {
		return "-"
	}
	return m.Status
}

func printDevice(w io.Writer, d api.Device) {
	fmt.Fprintf(w, "%s (%s)\n  segment: %s\n  state: %s\n  last seen: %s\n", esc(d.Name), esc(d.ID), esc(d.Segment), esc(d.State), seen(d))
	if len(d.MACs) > 0 {
		fmt.Fprintf(w, "  MAC addresses: %s\n", esc(strings.Join(d.MACs, ", ")))
	}
	if d.Credential != nil {
		fmt.Fprintf(w, "  credential: key id %s, created %s\n", esc(d.Credential.KeyID), d.Credential.CreatedAt.Local().Format(time.RFC3339))
		if t := d.Credential.ExpiresAt; t != nil {
			fmt.Fprintf(w, "  credential expires: %s\n", t.Local().Format(time.RFC3339))
		}
	}
	if d.MUD.URL != "" {
		fmt.Fprintf(w, "  MUD: %s (%s) %s\n", esc(d.MUD.URL), esc(d.MUD.Status), esc(d.MUD.Detail))
	}
	if d.Quarantined {
		fmt.Fprintln(w, "  QUARANTINED: reaches only DHCP and DNS")
	}
	if f := d.Firewall; f != nil {
		state := "confined as its standing says"
		if !f.Confined {
			state = "NOT confined as its standing says yet"
		}
		fmt.Fprintf(w, "  firewall: %s; accepted %d packets (%d bytes), dropped %d packets (%d bytes)\n",
			state, f.AcceptedPackets, f.AcceptedBytes, f.DroppedPackets, f.DroppedBytes)
	}
	for _, warn := range d.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", esc(warn))
	}
	// The latest changes, which say why it stands where it does.
	h := d.History
	if len(h) > 5 {
		h = h[len(h)-5:]
	}
	for _, e := range h {
		fmt.Fprintf(w, "  %s: %s\n", e.At.Local().Format(time.RFC3339), esc(e.What))
	}
}

// parseAnywhere parses flags that may come before or after positional
// arguments (trustjoin device camera --json), returning the positionals.
func parseAnywhere(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// oneArg parses flags and returns the single positional argument.
func oneArg(f *clientFlags, env Env, what string) (string, bool) {
	pos, err := parseAnywhere(f.fs, env.Args)
	if err != nil {
		return "", false
	}
	if len(pos) != 1 {
		fmt.Fprintf(env.Stderr, "trustjoin %s: want exactly one %s\n", f.fs.Name(), what)
		return "", false
	}
	return pos[0], true
}

func runDevice(ctx context.Context, env Env) int {
	f := newClientFlags("device", env)
	id, ok := oneArg(f, env, "device id or name")
	if !ok {
		return 2
	}
	// What it did lately, as the firewall saw it (none when devices are
	// not watched).
	var v deviceView
	if c, err := f.client(); err == nil {
		var b api.Behaviour
		bctx, cancel := context.WithTimeout(ctx, *f.timeout)
		if c.Do(bctx, "GET", "/v1/devices/"+url.PathEscape(id)+"/behaviour", nil, &b) == nil {
			v.Behaviour = &b
		}
		cancel()
	}
	return f.call(ctx, env, "GET", "/v1/devices/"+url.PathEscape(id), nil, &v, func(w io.Writer) {
		printDevice(w, v.Device)
		printBehaviour(w, v.Behaviour)
	})
}

// deviceView is a device with what it did lately.
type deviceView struct {
	api.Device
	Behaviour *api.Behaviour `json:"behaviour,omitempty"`
}

func printBehaviour(w io.Writer, b *api.Behaviour) {
	if b == nil || b.Dropped+b.Opened+b.Inbound == 0 {
		return
	}
	fmt.Fprintf(w, "  since trustjoin started: %d packets dropped, %d connections opened", b.Dropped, b.Opened)
	if b.Inbound > 0 {
		fmt.Fprintf(w, ", %d accepted", b.Inbound)
	}
	fmt.Fprintln(w)
	for i, e := range b.Entries {
		if i == 5 {
			fmt.Fprintf(w, "    and %d more\n", len(b.Entries)-i)
			break
		}
		fmt.Fprintf(w, "    %s %s (%d, last %s)\n", e.Verdict, esc(e.Destination()), e.Count, e.Last.Local().Format(time.TimeOnly))
	}
}

func runRemove(ctx context.Context, env Env) int {
	f := newClientFlags("remove", env)
	id, ok := oneArg(f, env, "device id or name")
	if !ok {
		return 2
	}
	var r map[string]string
	return f.call(ctx, env, "DELETE", "/v1/devices/"+url.PathEscape(id), nil, &r, func(w io.Writer) {
		fmt.Fprintf(w, "removed %s: its credential no longer works\n", esc(r["removed"]))
	})
}

func runRotate(ctx context.Context, env Env) int {
	f := newClientFlags("rotate", env)
	id, ok := oneArg(f, env, "device id or name")
	if !ok {
		return 2
	}
	var d api.Device
	return f.call(ctx, env, "POST", "/v1/devices/"+url.PathEscape(id)+"/rotate", nil, &d, func(w io.Writer) { printDevice(w, d) })
}

func runOnboard(ctx context.Context, env Env) int {
	f := newClientFlags("onboard", env)
	qr := f.fs.String("qr", "", "the device's DPP `URI` (from its QR code)")
	pkex := f.fs.String("pkex", "", "the device's PKEX `code`")
	id := f.fs.String("id", "", "PKEX identifier, if the device prints one")
	name := f.fs.String("name", "", "a name for the device")
	segment := f.fs.String("segment", "", "segment to put it in (default: the configured one)")
	ifname := f.fs.String("ifname", "", "access point to use (default: the first with DPP)")
	wait := f.fs.Bool("wait", true, "wait until the device has connected or failed")
	*f.timeout = 3 * time.Minute
	if f.fs.Parse(env.Args) != nil {
		return 2
	}
	req := api.OnboardRequest{Name: *name, Segment: *segment, Ifname: *ifname}
	switch {
	case *qr != "" && *pkex == "":
		req.Method, req.URI = "qr", *qr
	case *pkex != "" && *qr == "":
		req.Method, req.Code, req.Identifier = "pkex", *pkex, *id
	default:
		fmt.Fprintln(env.Stderr, "trustjoin onboard: give either --qr URI or --pkex CODE")
		return 2
	}
	// Refused here already, as the daemon would: hostapd must get the
	// code and nothing more, and names end up in tables and terminals.
	if err := req.Check(); err != nil {
		fmt.Fprintf(env.Stderr, "trustjoin onboard: %s\n", esc(err.Error()))
		return 2
	}
	c, err := f.client()
	if err != nil {
		fmt.Fprintf(env.Stderr, "trustjoin: %s\n", esc(err.Error()))
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, *f.timeout)
	defer cancel()
	var p api.Progress
	if err := c.Do(ctx, "POST", "/v1/onboard", req, &p); err != nil {
		fmt.Fprintf(env.Stderr, "trustjoin: %s\n", esc(err.Error()))
		return 1
	}
	last := ""
	for *wait && !finished(p.State) {
		if !*f.json && p.Step != last {
			fmt.Fprintf(env.Stdout, "… %s\n", esc(p.Step))
			last = p.Step
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(env.Stderr, "trustjoin: gave up waiting; the request %s goes on (trustjoin device %s)\n", p.ID, p.DeviceID)
			return 1
		case <-time.After(500 * time.Millisecond):
		}
		if err := c.Do(ctx, "GET", "/v1/onboard/"+url.PathEscape(p.ID), nil, &p); err != nil {
			fmt.Fprintf(env.Stderr, "trustjoin: %s\n", esc(err.Error()))
			return 1
		}
	}
	if *f.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(p)
	} else {
		switch p.State {
		case "connected":
			fmt.Fprintf(env.Stdout, "done: device %s is connected with its own credential\n", esc(p.DeviceID))
		case "failed", "cancelled":
			fmt.Fprintf(env.Stdout, "%s: %s\n", p.State, esc(p.Error))
			if p.Hint != "" {
				fmt.Fprintf(env.Stdout, "try: %s\n", esc(p.Hint))
			}
		default:
			fmt.Fprintf(env.Stdout, "request %s for device %s: %s\n", esc(p.ID), esc(p.DeviceID), esc(p.State))
		}
	}
	if p.State == "failed" || p.State == "cancelled" {
		return 1
	}
	return 0
}

func finished(state string) bool {
	return state == "connected" || state == "failed" || state == "cancelled"
}

func runPreauth(ctx context.Context, env Env) int {
	if len(env.Args) == 0 {
		fmt.Fprintln(env.Stderr, "usage: trustjoin preauth add URI [--segment S] [--name N] | list | remove ID")
		return 2
	}
	// The subcommand may follow options (trustjoin preauth --config F add).
	sub, at := env.Args[0], 0
	for i, a := range env.Args {
		if a == "add" || a == "list" || a == "remove" {
			sub, at = a, i
			break
		}
	}
	env.Args = append(append([]string{}, env.Args[:at]...), env.Args[at+1:]...)
	f := newClientFlags("preauth "+sub, env)
	switch sub {
	case "add":
		segment := f.fs.String("segment", "", "segment the device joins")
		name := f.fs.String("name", "", "a name for the device")
		// Flags may come after the URI, as people type them.
		var uri string
		var args []string
		for _, a := range env.Args {
			if uri == "" && strings.HasPrefix(a, "DPP:") {
				uri = a
				continue
			}
			args = append(args, a)
		}
		if f.fs.Parse(args) != nil {
			return 2
		}
		if uri == "" && f.fs.NArg() == 1 {
			uri = f.fs.Arg(0)
		}
		if uri == "" {
			fmt.Fprintln(env.Stderr, "trustjoin preauth add: want the device's DPP URI")
			return 2
		}
		if err := api.CheckName(*name); err != nil {
			fmt.Fprintf(env.Stderr, "trustjoin preauth add: %s\n", esc(err.Error()))
			return 2
		}
		var e api.PreauthEntry
		req := api.PreauthRequest{URI: uri, Segment: *segment, Name: *name, AddedBy: "user"}
		return f.call(ctx, env, "POST", "/v1/preauth", req, &e, func(w io.Writer) {
			fmt.Fprintf(w, "pre-authorised %s (%s): it joins segment %s when it announces itself\n", esc(e.ID), esc(e.Name), esc(e.Segment))
		})
	case "list":
		if f.fs.Parse(env.Args) != nil {
			return 2
		}
		var r struct {
			Entries []api.PreauthEntry `json:"entries"`
		}
		return f.call(ctx, env, "GET", "/v1/preauth", nil, &r, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSEGMENT\tADDED BY\tADDED")
			for _, e := range r.Entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", esc(e.ID), esc(e.Name), esc(e.Segment), esc(e.AddedBy), e.AddedAt.Local().Format("2006-01-02 15:04"))
			}
			tw.Flush()
		})
	case "remove":
		id, ok := oneArg(f, env, "entry id")
		if !ok {
			return 2
		}
		var r map[string]string
		return f.call(ctx, env, "DELETE", "/v1/preauth/"+url.PathEscape(id), nil, &r, func(w io.Writer) {
			fmt.Fprintf(w, "removed %s\n", esc(r["removed"]))
		})
	}
	fmt.Fprintf(env.Stderr, "trustjoin preauth: unknown subcommand %q (want add, list or remove)\n", sub)
	return 2
}
