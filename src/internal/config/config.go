package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/devname"
)

// DefaultPath is where OpenWrt keeps trustjoin's configuration.
const DefaultPath = "/etc/config/trustjoin"

// Config is trustjoin's validated configuration.
type Config struct {
	Main       Main
	Onboarding Onboarding
	// Wifi lists the access-point interfaces trustjoin onboards devices on.
	// Empty means every BSS found in the hostapd control directory.
	Wifi []Wifi
	// Segments in file order; SegmentByName finds one.
	Segments []Segment
	MUD      MUD
	BRSKI    BRSKI
	Web      Web
	// Controllers are the controllers the administrator names for MUD's
	// "controller" and "my-controller" matches (sections "controller").
	Controllers []Controller
	// Watch and Authorize: what happens after onboarding (sections "watch"
	// and "authorize").
	Watch     Watch
	Authorize Authorize
	// Preauths are devices pre-authorised in the configuration (sections
	// "preauth": an ISP's list, written over TR-069), in file order.
	Preauths []Preauth
	// Incomplete names the segment, controller and preauth sections
	// skipped for having no option at all: ones being added (TR-069's
	// AddObject comes before the SetParameterValues that fills them in).
	Incomplete []string
}

// Preauth is a device pre-authorised by its DPP bootstrapping URI (section
// "preauth"). The URI's shape is checked here; its key, when the daemon
// applies the entry.
type Preauth struct {
	// Section names the entry: it is the entry's key across reloads.
	Section string
	URI     string
	// Segment is where the device goes; empty, the onboarding default.
	Segment string
	Name    string
}

// MaxPreauthURI bounds a pre-authorised device's URI: TR-069 agents carry
// no more (bbfdm copies values into 1024 bytes).
const MaxPreauthURI = 1023

// Main holds daemon-wide settings (section "config trustjoin 'main'").
type Main struct {
	Enabled  bool
	LogLevel slog.Level
	// StateDir holds what must survive a reboot (registry, configurator
	// key, per-device credentials). It lives on flash: write sparingly.
	StateDir string
	// RunDir holds runtime files (the API socket); tmpfs on OpenWrt.
	RunDir         string
	HostapdCtrlDir string
	// APISocket is the local API's UNIX socket, root-only.
	APISocket string
	// Firewall lets trustjoin keep devices in their lanes with nftables
	// tables of its own (segments, quarantine, MUD policies). Off, devices
	// still get their own credential and VLAN, but nothing filters them.
	Firewall bool
	// Resolver is the DNS server MUD names are resolved with (the
	// router's dnsmasq).
	Resolver string
	// DHCPLeases is dnsmasq's lease file: the firewall takes a leased
	// IPv4 address as its device's, over what packets claim.
	DHCPLeases string
}

// AKM is the key management a device is configured for over DPP.
type AKM string

// The AKMs trustjoin can hand to devices.
const (
	AKMPSK    AKM = "psk"
	AKMSAE    AKM = "sae"
	AKMPSKSAE AKM = "psk-sae"
)

// Onboarding holds how new devices are admitted (section "onboarding").
type Onboarding struct {
	DefaultSegment string
	AKM            AKM
	// Timeout bounds one DPP exchange, from request to device connected.
	Timeout time.Duration
	// PKEXAttempts is how many wrong PKEX codes a BSS tolerates per
	// PKEXWindow before refusing PKEX for the rest of the window.
	PKEXAttempts int
	PKEXWindow   time.Duration
	// LegacyPassphrase allows the less safe path for devices without DPP:
	// a per-device passphrase shown once to the householder.
	LegacyPassphrase bool
}

// Wifi is one access-point interface (section "wifi").
type Wifi struct {
	Name   string
	Ifname string
	// PSKFile is the wpa_psk_file trustjoin owns for this BSS.
	PSKFile string
	// AKM overrides Onboarding.AKM for this BSS when set.
	AKM AKM
}

// Segment is a named network segment (section "segment").
type Segment struct {
	Name string
	// VLAN is the 802.1Q id devices of this segment are put in (1-4094).
	VLAN int
	// Internet says whether the segment may reach the WAN.
	Internet bool
	// Reach names the other segments this one may open connections to.
	Reach []string
	// Isolate forbids devices inside the segment talking to each other.
	Isolate bool
	// Quarantine marks the segment used to confine misbehaving devices:
	// they reach DHCP and DNS on the router and nothing else.
	Quarantine bool
	// Interfaces carry the segment on the router: the VLAN interfaces and
	// bridges its devices' packets arrive on (option 'interface'). Empty
	// means hostapd's own naming: <access point>.<vlan> and brvlan<vlan>.
	Interfaces []string
	// Bridge is the bridge trustjoin makes (and brings up) to carry the
	// segment (option 'bridge'); empty, trustjoin plumbs nothing. It
	// always carries the segment for the firewall, on top of Interfaces
	// or hostapd's naming.
	Bridge string
	// Watch is what happens when a device of the segment keeps trying
	// what its MUD file or segment forbids (option 'watch'); empty means
	// notify. WatchThreshold distinct forbidden destinations within
	// WatchWindow count as "keeps trying"; zero means the defaults. See
	// Segment.WatchPolicy.
	Watch          WatchMode
	WatchThreshold int
	WatchWindow    time.Duration
	// Lifetime is how long a device's credential lasts in this segment
	// (option 'lifetime'); zero is for ever.
	Lifetime time.Duration
	// Learn is how long the destinations of a device without a MUD file
	// are learned after onboarding, to propose a profile (option
	// 'learn'); zero is not at all.
	Learn time.Duration
	// Uplink is a wired trunk (option 'uplink'): the VLAN interface
	// <Uplink>.<VLAN> is made and put into Bridge, so the segment reaches
	// wired devices and switches tagged. Needs Bridge.
	Uplink string
}

// WatchMode is a segment's watch policy.
type WatchMode string

// The watch policies.
const (
	WatchOff        WatchMode = "off"
	WatchNotify     WatchMode = "notify"
	WatchQuarantine WatchMode = "quarantine"
)

// Watch defaults: 10 distinct forbidden destinations within 10 minutes.
// A device whose MUD file lacks one name it uses retries that one name
// (one destination, whatever addresses the name has); a device scanning
// its neighbours or the internet (Mirai's telnet sweep) passes ten in
// seconds. MaxWatchThreshold is what the per-device history holds.
const (
	DefaultWatchThreshold = 10
	DefaultWatchWindow    = 10 * time.Minute
	MaxWatchThreshold     = 16
)

// WatchPolicy returns the segment's watch policy with defaults filled in.
// A quarantine segment is never watched: its devices are already
// confined.
func (s Segment) WatchPolicy() (mode WatchMode, threshold int, window time.Duration) {
	mode, threshold, window = s.Watch, s.WatchThreshold, s.WatchWindow
	if mode == "" {
		mode = WatchNotify
	}
	if s.Quarantine {
		mode = WatchOff
	}
	if threshold == 0 {
		threshold = DefaultWatchThreshold
	}
	if window == 0 {
		window = DefaultWatchWindow
	}
	return mode, threshold, window
}

// UplinkVLAN names the VLAN interface carrying s on its uplink, or is
// empty without an uplink.
func (s Segment) UplinkVLAN() string {
	if s.Uplink == "" {
		return ""
	}
	return fmt.Sprintf("%s.%d", s.Uplink, s.VLAN)
}

// SegmentInterfaces returns the interfaces carrying s: its own list, or
// those hostapd creates for its VLAN on each access point in aps; and its
// bridge, if it names one. (The bridge's ports, the uplink's VLAN
// interface among them, are the firewall's to find.)
func SegmentInterfaces(s Segment, aps []string) []string {
	var out []string
	if len(s.Interfaces) > 0 {
		out = append(out, s.Interfaces...)
	} else {
		for _, ap := range aps {
			out = append(out, fmt.Sprintf("%s.%d", ap, s.VLAN))
		}
		out = append(out, fmt.Sprintf("brvlan%d", s.VLAN))
	}
	if s.Bridge != "" && !slices.Contains(out, s.Bridge) {
		out = append(out, s.Bridge)
	}
	return out
}

// SignaturePolicy says what to do with a MUD file that is unsigned or whose
// signature cannot be verified against the trust anchors.
type SignaturePolicy string

// The signature policies.
const (
	// SignatureRequire rejects unsigned or unverifiable files.
	SignatureRequire SignaturePolicy = "require"
	// SignatureApprove parses them but does not let them widen a device's
	// access until the householder approves. The default.
	SignatureApprove SignaturePolicy = "approve"
	// SignatureAllow applies them with a warning.
	SignatureAllow SignaturePolicy = "allow"
)

// MUD holds MUD retrieval and enforcement settings (section "mud").
type MUD struct {
	Enabled         bool
	SignaturePolicy SignaturePolicy
	TrustAnchors    []string
	MaxSize         int
	FetchTimeout    time.Duration
}

// BRSKI holds the join proxy's settings (section "brski").
type BRSKI struct {
	Enabled    bool
	Interfaces []string
	Port       int
	// IPv4 also listens on the interfaces' IPv4 addresses.
	IPv4 bool
	// RegistrarHost empty means discover the registrar (mDNS, GRASP).
	RegistrarHost  string
	RegistrarPort  int
	MaxConnections int
	MaxPerSource   int
	IdleTimeout    time.Duration
	// Stateless enables the constrained (CoAP/DTLS) stateless join proxy.
	Stateless     bool
	StatelessPort int
	JPYPort       int
}

// Controller is a controller on the network (section "controller"): a
// hub, a bridge or a cloud relay that MUD files may let devices talk to.
// RFC 8520 leaves naming them to the administrator: a "controller" match
// names a class (a URI) the controller is one of, a "my-controller" match
// means the controllers configured for the device's MUD URL.
type Controller struct {
	Name string
	// Addresses are its addresses or prefixes (option 'address').
	Addresses []netip.Prefix
	// Classes are the controller URIs it answers to (option 'class').
	Classes []string
	// MUDURLs are the MUD URLs it is my-controller for (option 'mud_url').
	MUDURLs []string
}

// Web holds the householder-facing pages and the phone flow (section "web").
type Web struct {
	Enabled bool
	// Listen are the LAN-side addresses the pages are served on; never WAN.
	Listen   []netip.AddrPort
	TokenTTL time.Duration
}

// Watch holds how devices are watched after onboarding (section
// "watch").
type Watch struct {
	// Unknown turns on looking for devices the household did not onboard,
	// every ScanInterval.
	Unknown      bool
	ScanInterval time.Duration
	// LogGroup is the first of the two NFLOG groups the firewall logs
	// devices' dropped packets and connections (LogGroup) and DNS answers
	// (LogGroup+1) to; trustjoin reads both.
	LogGroup int
	// ExpiryWarning is how long before a credential expires the household
	// is warned.
	ExpiryWarning time.Duration
}

// Authorize holds the authorisation hook's settings (section
// "authorize"). The hook itself is optional: without the program, every
// device is allowed.
type Authorize struct {
	Hook    string
	Timeout time.Duration
	// FailOpen: when the hook fails before a credential is given, allow
	// (fail open) rather than refuse (fail closed, the default).
	FailOpen bool
	// Interval is how often every device is checked again; zero: never.
	Interval time.Duration
}

// SegmentByName returns the named segment.
func (c *Config) SegmentByName(name string) (Segment, bool) {
	for _, s := range c.Segments {
		if s.Name == name {
			return s, true
		}
	}
	return Segment{}, false
}

// Load reads and validates the UCI file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read config: %w", err)
	}
	return Parse(path, bytes.NewReader(b))
}

// Parse reads and validates a UCI file. file names it in errors.
func Parse(file string, r io.Reader) (*Config, error) {
	sections, err := ParseUCI(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	c := defaults()
	seen := map[string]bool{}
	segDefaults := true
	for i := range sections {
		s := &sections[i]
		d := &decoder{file: file, s: s}
		if len(s.Options) == 0 && !s.Anonymous && (s.Type == "segment" || s.Type == "controller" || s.Type == "preauth") {
			c.Incomplete = append(c.Incomplete, s.Name)
			continue
		}
		single := func() {
			if seen[s.Type] {
				d.failf("", "only one %q section is allowed", s.Type)
			}
			seen[s.Type] = true
		}
		switch s.Type {
		case "trustjoin":
			single()
			c.Main = d.main(c.Main)
		case "onboarding":
			single()
			c.Onboarding = d.onboarding(c.Onboarding)
		case "wifi":
			c.Wifi = append(c.Wifi, d.wifi(c.Main.StateDir))
		case "segment":
			if segDefaults {
				// Segments in the file replace the built-in set.
				c.Segments, segDefaults = nil, false
			}
			c.Segments = append(c.Segments, d.segment())
		case "mud":
			single()
			c.MUD = d.mud(c.MUD)
		case "brski":
			single()
			c.BRSKI = d.brski(c.BRSKI)
		case "web":
			single()
			c.Web = d.web(c.Web)
		case "controller":
			c.Controllers = append(c.Controllers, d.controller())
		case "watch":
			single()
			c.Watch = d.watch(c.Watch)
		case "authorize":
			single()
			c.Authorize = d.authorize(c.Authorize)
		case "preauth":
			c.Preauths = append(c.Preauths, d.preauth())
		default:
			d.failf("", "unknown section type %q (want trustjoin, onboarding, wifi, segment, mud, brski, web, controller, preauth, watch or authorize)", s.Type)
		}
		d.rejectUnknown()
		if d.err != nil {
			return nil, d.err
		}
	}
	if c.Main.APISocket == "" {
		c.Main.APISocket = filepath.Join(c.Main.RunDir, "api.sock")
	}
	lines := map[string]int{}
	for _, s := range sections {
		lines[s.Name] = s.Line
	}
	if err := c.validate(lines); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return c, nil
}

// defaults is the configuration an empty file means.
func defaults() *Config {
	return &Config{
		Main: Main{
			Enabled:        true,
			Firewall:       true,
			Resolver:       "127.0.0.1:53",
			DHCPLeases:     "/tmp/dhcp.leases",
			LogLevel:       slog.LevelInfo,
			StateDir:       "/etc/trustjoin",
			RunDir:         "/var/run/trustjoin",
			HostapdCtrlDir: "/var/run/hostapd",
		},
		Onboarding: Onboarding{
			DefaultSegment: "iot",
			AKM:            AKMPSK,
			Timeout:        120 * time.Second,
			PKEXAttempts:   5,
			PKEXWindow:     10 * time.Minute,
		},
		Segments: []Segment{
			{Name: "trusted", VLAN: 10, Internet: true, Reach: []string{"iot", "guest"}, Watch: WatchNotify},
			// IoT devices do few, predictable things: one that keeps trying
			// what it may not is quarantined; those without a MUD file are
			// learned for three days.
			{Name: "iot", VLAN: 20, Internet: true, Isolate: true, Watch: WatchQuarantine, Learn: 72 * time.Hour},
			{Name: "guest", VLAN: 30, Internet: true, Isolate: true, Watch: WatchNotify},
			{Name: "quarantine", VLAN: 99, Isolate: true, Quarantine: true, Watch: WatchOff},
		},
		MUD: MUD{
			Enabled:         true,
			SignaturePolicy: SignatureApprove,
			MaxSize:         256 << 10,
			FetchTimeout:    15 * time.Second,
		},
		BRSKI: BRSKI{
			Port:           8443,
			RegistrarPort:  443,
			MaxConnections: 64,
			MaxPerSource:   8,
			IdleTimeout:    60 * time.Second,
			StatelessPort:  5684,
			JPYPort:        5685,
		},
		Web: Web{
			TokenTTL: 10 * time.Minute,
		},
		Watch: Watch{
			Unknown:       true,
			ScanInterval:  30 * time.Second,
			LogGroup:      1170,
			ExpiryWarning: 24 * time.Hour,
		},
		Authorize: Authorize{
			Hook:     "/etc/trustjoin/hooks/authorize",
			Timeout:  10 * time.Second,
			Interval: time.Hour,
		},
	}
}

// validate checks the configuration as a whole. lines gives each
// section's line, so that a clash names both places.
func (c *Config) validate(lines map[string]int) error {
	at := func(name string) string {
		if l, ok := lines[name]; ok {
			return fmt.Sprintf("%q (line %d)", name, l)
		}
		return fmt.Sprintf("%q (built in)", name)
	}
	names := map[string]bool{}
	vlans := map[int]string{}
	ifaces := map[string]string{}
	bridges := map[string]string{}
	quarantine := 0
	for _, s := range c.Segments {
		if names[s.Name] {
			return fmt.Errorf("segment %s is defined twice", at(s.Name))
		}
		names[s.Name] = true
		if other, ok := vlans[s.VLAN]; ok {
			return fmt.Errorf("segment %s: vlan %d is already used by segment %s", at(s.Name), s.VLAN, at(other))
		}
		vlans[s.VLAN] = s.Name
		for _, i := range s.Interfaces {
			if other, ok := ifaces[i]; ok {
				return fmt.Errorf("segment %s, option 'interface': %s already carries segment %s", at(s.Name), i, at(other))
			}
			ifaces[i] = s.Name
		}
		if s.Bridge != "" {
			if other, ok := bridges[s.Bridge]; ok {
				return fmt.Errorf("segment %s, option 'bridge': %s already carries segment %s", at(s.Name), s.Bridge, at(other))
			}
			bridges[s.Bridge] = s.Name
		}
		if s.Quarantine {
			quarantine++
		}
	}
	if len(c.Segments) == 0 {
		return errors.New("no segment is defined")
	}
	if quarantine > 1 {
		return errors.New("more than one segment has option quarantine '1'")
	}
	for _, s := range c.Segments {
		// A bridge is one segment's: not another's interface, nor the
		// bridge hostapd names after another's VLAN.
		if s.Bridge == "" {
			continue
		}
		if other, ok := ifaces[s.Bridge]; ok && other != s.Name {
			return fmt.Errorf("segment %s, option 'bridge': %s already carries segment %s, by its option 'interface'", at(s.Name), s.Bridge, at(other))
		}
		for _, o := range c.Segments {
			if o.Name != s.Name && len(o.Interfaces) == 0 && s.Bridge == fmt.Sprintf("brvlan%d", o.VLAN) {
				return fmt.Errorf("segment %s, option 'bridge': %s is the bridge hostapd makes for vlan %d, segment %s's", at(s.Name), s.Bridge, o.VLAN, at(o.Name))
			}
		}
	}
	for _, s := range c.Segments {
		for _, r := range s.Reach {
			if !names[r] {
				return fmt.Errorf("segment %q, option 'reach': no segment named %q", s.Name, r)
			}
			if r == s.Name {
				return fmt.Errorf("segment %q, option 'reach': a segment cannot list itself (use option isolate)", s.Name)
			}
		}
		if s.Quarantine && (s.Internet || len(s.Reach) > 0) {
			return fmt.Errorf("segment %q: a quarantine segment cannot have internet or reach", s.Name)
		}
		if s.Quarantine && s.Watch == WatchQuarantine {
			return fmt.Errorf("segment %q, option 'watch': the quarantine segment cannot quarantine its devices again (use off or notify)", s.Name)
		}
	}
	if seg, ok := c.SegmentByName(c.Onboarding.DefaultSegment); !ok {
		return fmt.Errorf("onboarding, option 'default_segment': no segment named %q", c.Onboarding.DefaultSegment)
	} else if seg.Quarantine {
		return fmt.Errorf("onboarding, option 'default_segment': %q is the quarantine segment", seg.Name)
	}
	ifnames := map[string]string{}
	for _, w := range c.Wifi {
		if other, ok := ifnames[w.Ifname]; ok {
			return fmt.Errorf("wifi %s: interface %q is already wifi %s's", at(w.Name), w.Ifname, at(other))
		}
		ifnames[w.Ifname] = w.Name
	}
	for _, p := range c.Preauths {
		if p.Segment == "" {
			continue
		}
		if seg, ok := c.SegmentByName(p.Segment); !ok {
			return fmt.Errorf("preauth %q, option 'segment': no segment named %q", p.Section, p.Segment)
		} else if seg.Quarantine {
			return fmt.Errorf("preauth %q, option 'segment': %q is the quarantine segment", p.Section, seg.Name)
		}
	}
	if c.BRSKI.Enabled && len(c.BRSKI.Interfaces) == 0 {
		return errors.New("brski, option 'interface': the join proxy is enabled but listens on no interface")
	}
	if c.BRSKI.Enabled && c.BRSKI.Stateless && c.BRSKI.RegistrarHost == "" {
		return errors.New("brski, option 'stateless': the stateless proxy needs registrar_host (a registrar's JPY port is not discovered)")
	}
	if c.Web.Enabled && len(c.Web.Listen) == 0 {
		return errors.New("web, option 'listen': the pages are enabled but have no LAN address to listen on")
	}
	return nil
}

// A decoder reads one section's options, remembering which were used so
// leftovers can be reported as unknown. It keeps only the first error.
type decoder struct {
	file string
	s    *Section
	used map[string]bool
	err  error
}

func (d *decoder) failf(option, format string, args ...any) {
	if d.err != nil {
		return
	}
	where := fmt.Sprintf("%s: section %q (%s, line %d)", d.file, d.s.Name, d.s.Type, d.s.Line)
	if o := d.find(option); o != nil {
		where += fmt.Sprintf(", option %q (line %d)", option, o.Line)
	} else if option != "" {
		where += fmt.Sprintf(", option %q", option)
	}
	d.err = fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
}

func (d *decoder) find(name string) *Option {
	for i := range d.s.Options {
		if d.s.Options[i].Name == name {
			return &d.s.Options[i]
		}
	}
	return nil
}

func (d *decoder) lookup(name string, list bool) (*Option, bool) {
	if d.used == nil {
		d.used = map[string]bool{}
	}
	d.used[name] = true
	o := d.find(name)
	if o == nil {
		return nil, false
	}
	if o.List != list {
		kind := "an option"
		if list {
			kind = "a list"
		}
		d.failf(name, "must be %s", kind)
		return nil, false
	}
	return o, true
}

func (d *decoder) rejectUnknown() {
	var unknown []string
	for _, o := range d.s.Options {
		if !d.used[o.Name] {
			unknown = append(unknown, o.Name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		d.failf(unknown[0], "unknown option")
	}
}

func (d *decoder) str(name, def string) string {
	o, ok := d.lookup(name, false)
	if !ok {
		return def
	}
	return o.Values[0]
}

func (d *decoder) list(name string, def []string) []string {
	o, ok := d.lookup(name, true)
	if !ok {
		return def
	}
	return append([]string(nil), o.Values...)
}

// boolean accepts the spellings OpenWrt's config_get_bool does.
func (d *decoder) boolean(name string, def bool) bool {
	o, ok := d.lookup(name, false)
	if !ok {
		return def
	}
	switch strings.ToLower(o.Values[0]) {
	case "1", "on", "true", "yes", "enabled":
		return true
	case "0", "off", "false", "no", "disabled":
		return false
	}
	d.failf(name, "invalid boolean %q (want 1 or 0)", o.Values[0])
	return def
}

func (d *decoder) integer(name string, def, lo, hi int) int {
	o, ok := d.lookup(name, false)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(o.Values[0])
	if err != nil || n < lo || n > hi {
		d.failf(name, "invalid value %q (want a whole number from %d to %d)", o.Values[0], lo, hi)
		return def
	}
	return n
}

// seconds reads a duration written as whole seconds, as UCI configs do.
func (d *decoder) seconds(name string, def time.Duration, lo, hi int) time.Duration {
	n := d.integer(name, int(def/time.Second), lo, hi)
	return time.Duration(n) * time.Second
}

func (d *decoder) oneOf(name, def string, allowed ...string) string {
	v := d.str(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	d.failf(name, "invalid value %q (want one of %s)", v, strings.Join(allowed, ", "))
	return def
}

func (d *decoder) path(name, def string) string {
	v := d.str(name, def)
	if !filepath.IsAbs(v) {
		d.failf(name, "%q is not an absolute path", v)
	}
	return filepath.Clean(v)
}

func (d *decoder) named() string {
	if d.s.Anonymous {
		d.failf("", "a %s section needs a name: config %s '<name>'", d.s.Type, d.s.Type)
	}
	return d.s.Name
}

func (d *decoder) main(m Main) Main {
	m.Enabled = d.boolean("enabled", m.Enabled)
	switch lvl := d.oneOf("log_level", "info", "debug", "info", "warn", "error"); lvl {
	case "debug":
		m.LogLevel = slog.LevelDebug
	case "warn":
		m.LogLevel = slog.LevelWarn
	case "error":
		m.LogLevel = slog.LevelError
	default:
		m.LogLevel = slog.LevelInfo
	}
	m.StateDir = d.path("state_dir", m.StateDir)
	m.RunDir = d.path("run_dir", m.RunDir)
	m.HostapdCtrlDir = d.path("hostapd_ctrl_dir", m.HostapdCtrlDir)
	if _, ok := d.lookup("api_socket", false); ok {
		m.APISocket = d.path("api_socket", "")
	}
	m.Firewall = d.boolean("firewall", m.Firewall)
	// Empty turns it off.
	if m.DHCPLeases = d.str("dhcp_leases", m.DHCPLeases); m.DHCPLeases != "" {
		m.DHCPLeases = d.path("dhcp_leases", m.DHCPLeases)
	}
	if v := d.str("resolver", ""); v != "" {
		ap, err := netip.ParseAddrPort(v)
		if err != nil || ap.Port() == 0 {
			d.failf("resolver", "%q is not an address and port, like '127.0.0.1:53'", v)
		} else {
			m.Resolver = ap.String()
		}
	}
	return m
}

func (d *decoder) akm(name string, def AKM) AKM {
	return AKM(d.oneOf(name, string(def), string(AKMPSK), string(AKMSAE), string(AKMPSKSAE)))
}

func (d *decoder) onboarding(o Onboarding) Onboarding {
	o.DefaultSegment = d.str("default_segment", o.DefaultSegment)
	o.AKM = d.akm("akm", o.AKM)
	o.Timeout = d.seconds("timeout", o.Timeout, 10, 3600)
	o.PKEXAttempts = d.integer("pkex_attempts", o.PKEXAttempts, 1, 100)
	o.PKEXWindow = d.seconds("pkex_window", o.PKEXWindow, 10, 86400)
	o.LegacyPassphrase = d.boolean("legacy_passphrase", o.LegacyPassphrase)
	return o
}

func (d *decoder) wifi(stateDir string) Wifi {
	w := Wifi{Name: d.named()}
	w.Ifname = d.str("ifname", "")
	if w.Ifname == "" || strings.ContainsAny(w.Ifname, "/ \t") || len(w.Ifname) > 15 {
		d.failf("ifname", "want the access point's interface name, like 'wlan0' or 'phy0-ap0'")
	}
	w.PSKFile = d.path("psk_file", filepath.Join(stateDir, "psk", w.Ifname+".psk"))
	if _, ok := d.lookup("akm", false); ok {
		w.AKM = d.akm("akm", "")
	}
	return w
}

func (d *decoder) segment() Segment {
	s := Segment{Name: d.named()}
	s.VLAN = d.integer("vlan", 0, 1, 4094)
	if d.find("vlan") == nil {
		d.failf("vlan", "every segment needs a vlan id (1-4094)")
	}
	s.Internet = d.boolean("internet", false)
	s.Reach = d.list("reach", nil)
	s.Isolate = d.boolean("isolate", false)
	s.Quarantine = d.boolean("quarantine", false)
	for _, i := range d.list("interface", nil) {
		if !validIfname(i) {
			d.failf("interface", "%q is not an interface name (1-15 characters, no spaces, '/' or ':')", i)
		}
		s.Interfaces = append(s.Interfaces, i)
	}
	s.Bridge = d.str("bridge", "")
	// Empty is none, as LuCI forms and TR-069 clear an option.
	if s.Bridge != "" && !validIfname(s.Bridge) {
		d.failf("bridge", "%q is not an interface name (1-15 characters, no spaces, '/' or ':')", s.Bridge)
	}
	s.Uplink = d.str("uplink", "")
	if s.Uplink != "" {
		switch {
		case !validIfname(s.Uplink):
			d.failf("uplink", "%q is not an interface name (1-15 characters, no spaces, '/' or ':')", s.Uplink)
		case s.Uplink == s.Bridge:
			d.failf("uplink", "%s is the segment's own bridge: name the wired interface the VLAN is tagged on", s.Uplink)
		case s.Bridge == "":
			d.failf("uplink", "needs option bridge: the bridge the VLAN interface %s becomes a port of", s.UplinkVLAN())
		case len(s.UplinkVLAN()) > 15:
			// The kernel's limit; better said now than at the first start.
			d.failf("uplink", "the VLAN interface name %q would be longer than 15 characters: use a shorter uplink name", s.UplinkVLAN())
		}
	}
	d.watchOptions(&s)
	return s
}

// durationOrNever reads whole seconds where 0 (or nothing) is "not at
// all" and anything else must be within lo..hi.
func (d *decoder) durationOrNever(name string, def time.Duration, lo, hi int) time.Duration {
	o, ok := d.lookup(name, false)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(o.Values[0])
	if err != nil || n != 0 && (n < lo || n > hi) {
		d.failf(name, "invalid value %q (want 0 for never, or a whole number of seconds from %d to %d)", o.Values[0], lo, hi)
		return def
	}
	return time.Duration(n) * time.Second
}

func (d *decoder) watchOptions(s *Segment) {
	if _, ok := d.lookup("watch", false); ok {
		s.Watch = WatchMode(d.oneOf("watch", "", string(WatchOff), string(WatchNotify), string(WatchQuarantine)))
	}
	if _, ok := d.lookup("watch_threshold", false); ok {
		s.WatchThreshold = d.integer("watch_threshold", 0, 1, MaxWatchThreshold)
	}
	if _, ok := d.lookup("watch_window", false); ok {
		s.WatchWindow = d.seconds("watch_window", 0, 10, 86400)
	}
	// A credential lasts at least a minute (a visitor's few minutes; the
	// lab), at most ten years.
	s.Lifetime = d.durationOrNever("lifetime", 0, 60, 10*365*86400)
	s.Learn = d.durationOrNever("learn", 0, 60, 30*86400)
}

func (d *decoder) watch(w Watch) Watch {
	w.Unknown = d.boolean("unknown", w.Unknown)
	w.ScanInterval = d.seconds("scan_interval", w.ScanInterval, 1, 3600)
	w.LogGroup = d.integer("log_group", w.LogGroup, 1, 65534)
	w.ExpiryWarning = d.durationOrNever("expiry_warning", w.ExpiryWarning, 60, 30*86400)
	return w
}

func (d *decoder) authorize(a Authorize) Authorize {
	a.Hook = d.path("hook", a.Hook)
	a.Timeout = d.seconds("timeout", a.Timeout, 1, 120)
	a.FailOpen = d.oneOf("on_failure", map[bool]string{false: "deny", true: "allow"}[a.FailOpen], "deny", "allow") == "allow"
	a.Interval = d.durationOrNever("interval", a.Interval, 60, 7*86400)
	return a
}

func validIfname(s string) bool {
	return len(s) > 0 && len(s) < 16 && !strings.ContainsAny(s, " \t/:") && s != "." && s != ".."
}

func (d *decoder) mud(m MUD) MUD {
	m.Enabled = d.boolean("enabled", m.Enabled)
	m.SignaturePolicy = SignaturePolicy(d.oneOf("signature_policy", string(m.SignaturePolicy),
		string(SignatureRequire), string(SignatureApprove), string(SignatureAllow)))
	for _, p := range d.list("trust_anchor", nil) {
		if !filepath.IsAbs(p) {
			d.failf("trust_anchor", "%q is not an absolute path", p)
		}
		m.TrustAnchors = append(m.TrustAnchors, p)
	}
	m.MaxSize = d.integer("max_size", m.MaxSize, 1024, 1<<20)
	m.FetchTimeout = d.seconds("fetch_timeout", m.FetchTimeout, 1, 300)
	return m
}

func (d *decoder) brski(b BRSKI) BRSKI {
	b.Enabled = d.boolean("enabled", b.Enabled)
	b.Interfaces = d.list("interface", nil)
	b.Port = d.integer("port", b.Port, 1, 65535)
	b.IPv4 = d.boolean("ipv4", b.IPv4)
	b.RegistrarHost = d.str("registrar_host", "")
	b.RegistrarPort = d.integer("registrar_port", b.RegistrarPort, 1, 65535)
	b.MaxConnections = d.integer("max_connections", b.MaxConnections, 1, 100000)
	b.MaxPerSource = d.integer("max_per_source", b.MaxPerSource, 1, 1000)
	b.IdleTimeout = d.seconds("idle_timeout", b.IdleTimeout, 1, 3600)
	b.Stateless = d.boolean("stateless", b.Stateless)
	b.StatelessPort = d.integer("stateless_port", b.StatelessPort, 1, 65535)
	b.JPYPort = d.integer("jpy_port", b.JPYPort, 1, 65535)
	return b
}

func (d *decoder) controller() Controller {
	c := Controller{Name: d.named()}
	for _, a := range d.list("address", nil) {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			addr, aerr := netip.ParseAddr(a)
			if aerr != nil {
				d.failf("address", "%q is not an IP address or prefix", a)
				continue
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.Addresses = append(c.Addresses, p.Masked())
	}
	if d.find("address") == nil {
		d.failf("address", "a controller needs at least one address")
	}
	for _, u := range d.list("class", nil) {
		switch {
		case u == "urn:ietf:params:mud:dns" || u == "urn:ietf:params:mud:ntp":
			d.failf("class", "%q is the router's own service, which devices may use anyway", u)
		case !strings.Contains(u, ":"):
			d.failf("class", "%q is not a URI", u)
		}
		c.Classes = append(c.Classes, u)
	}
	for _, u := range d.list("mud_url", nil) {
		if !strings.HasPrefix(u, "https://") {
			d.failf("mud_url", "%q is not an https URL", u)
		}
		c.MUDURLs = append(c.MUDURLs, u)
	}
	if len(c.Classes) == 0 && len(c.MUDURLs) == 0 {
		d.failf("", "controller %q: give a class, a mud_url or both, or it matches nothing", c.Name)
	}
	return c
}

func (d *decoder) preauth() Preauth {
	p := Preauth{Section: d.named()}
	p.URI = strings.TrimSpace(d.str("uri", ""))
	switch {
	case p.URI == "":
		d.failf("uri", "a pre-authorised device needs its DPP URI (DPP:...;;)")
	case len(p.URI) > MaxPreauthURI:
		d.failf("uri", "the URI is %d bytes long, more than %d", len(p.URI), MaxPreauthURI)
	case !strings.HasPrefix(p.URI, "DPP:"):
		d.failf("uri", "not a DPP URI: it must start with DPP:")
	}
	p.Segment = d.str("segment", "")
	if p.Name = d.str("name", ""); p.Name != "" {
		if err := devname.Check(p.Name); err != nil {
			d.failf("name", "%v", err)
		}
	}
	return p
}

func (d *decoder) web(w Web) Web {
	w.Enabled = d.boolean("enabled", w.Enabled)
	for _, l := range d.list("listen", nil) {
		ap, err := ListenAddr(l)
		if err != nil {
			d.failf("listen", "%v", err)
			continue
		}
		w.Listen = append(w.Listen, ap)
	}
	w.TokenTTL = d.seconds("token_ttl", w.TokenTTL, 60, 3600)
	return w
}
