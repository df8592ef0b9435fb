package config_test

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/config"
)

// The shipped default must parse, and must mean the same as an empty file
// (it only spells the defaults out), so householders can trust its comments.
func TestParseShippedDefault(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "..", "files", "etc", "config", "trustjoin")
	shipped, err := config.Load(path)
	if err != nil {
		t.Fatalf("shipped default config does not parse: %v", err)
	}
	empty, err := config.Parse("empty", strings.NewReader(""))
	if err != nil {
		t.Fatalf("empty config: %v", err)
	}
	if diff := cmp.Diff(empty, shipped); diff != "" {
		t.Fatalf("shipped config differs from the built-in defaults (-defaults +shipped):\n%s", diff)
	}
	if got, want := shipped.Main.APISocket, "/var/run/trustjoin/api.sock"; got != want {
		t.Fatalf("api socket: got %q, want %q", got, want)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, c *config.Config)
		err   string
	}{
		{
			name: "quoting, lists and bool spellings",
			in: `package trustjoin
config trustjoin 'main'
	option log_level "debug"   # trailing comment
	option state_dir /tmp/tj
	option enabled 'yes'
config segment lan
	option vlan 5
	option internet on
	list reach 'iot'
config segment 'iot'
	option vlan '6'
config onboarding
	option default_segment iot
	option timeout 30
config wifi 'ap'
	option ifname 'wlan0'
`,
			check: func(t *testing.T, c *config.Config) {
				if c.Main.LogLevel != slog.LevelDebug || c.Main.StateDir != "/tmp/tj" || !c.Main.Enabled {
					t.Errorf("main: %+v", c.Main)
				}
				want := []config.Segment{
					{Name: "lan", VLAN: 5, Internet: true, Reach: []string{"iot"}},
					{Name: "iot", VLAN: 6},
				}
				if diff := cmp.Diff(want, c.Segments); diff != "" {
					t.Errorf("segments (-want +got):\n%s", diff)
				}
				if c.Onboarding.Timeout != 30*time.Second {
					t.Errorf("timeout: %v", c.Onboarding.Timeout)
				}
				if diff := cmp.Diff([]config.Wifi{{Name: "ap", Ifname: "wlan0", PSKFile: "/tmp/tj/psk/wlan0.psk"}}, c.Wifi); diff != "" {
					t.Errorf("wifi (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "unknown option names file, section and option",
			in:   "config trustjoin 'main'\n\toption log_levle 'debug'\n",
			err:  `test.uci: section "main" (trustjoin, line 1), option "log_levle" (line 2): unknown option`,
		},
		{
			name: "bad value",
			in:   "config trustjoin 'main'\n\toption log_level 'loud'\n",
			err:  `option "log_level" (line 2): invalid value "loud" (want one of debug, info, warn, error)`,
		},
		{
			name: "bad boolean",
			in:   "config mud 'mud'\n\toption enabled 'maybe'\n",
			err:  `section "mud" (mud, line 1), option "enabled" (line 2): invalid boolean "maybe"`,
		},
		{
			name: "number out of range",
			in:   "config segment 'x'\n\toption vlan '5000'\n",
			err:  `option "vlan" (line 2): invalid value "5000" (want a whole number from 1 to 4094)`,
		},
		{
			name: "segment interfaces",
			in:   "config segment 'iot'\n\toption vlan '20'\n\tlist interface 'br-iot'\n\tlist interface 'wlan0.20'\nconfig segment 'guest'\n\toption vlan '30'\nconfig onboarding\n\toption default_segment 'iot'\n",
			check: func(t *testing.T, c *config.Config) {
				iot, _ := c.SegmentByName("iot")
				guest, _ := c.SegmentByName("guest")
				if got := config.SegmentInterfaces(iot, []string{"wlan0"}); !cmp.Equal(got, []string{"br-iot", "wlan0.20"}) {
					t.Errorf("iot interfaces: %v", got)
				}
				if got := config.SegmentInterfaces(guest, []string{"wlan0", "wlan1"}); !cmp.Equal(got, []string{"wlan0.30", "wlan1.30", "brvlan30"}) {
					t.Errorf("guest interfaces (hostapd's naming): %v", got)
				}
			},
		},
		{
			// Empty, as LuCI's forms and TR-069 clear them, is none too.
			name: "no bridge or empty ones: nothing to plumb, interfaces as before",
			in:   "config segment 'iot'\n\toption vlan '20'\nconfig segment 'guest'\n\toption vlan '30'\n\toption bridge ''\n\toption uplink ''\n",
			check: func(t *testing.T, c *config.Config) {
				for name, want := range map[string][]string{"iot": {"wlan0.20", "brvlan20"}, "guest": {"wlan0.30", "brvlan30"}} {
					s, _ := c.SegmentByName(name)
					if s.Bridge != "" || s.Uplink != "" || s.UplinkVLAN() != "" {
						t.Errorf("%s: plumbing without asking: %+v", name, s)
					}
					if got := config.SegmentInterfaces(s, []string{"wlan0"}); !cmp.Equal(got, want) {
						t.Errorf("%s interfaces: %v", name, got)
					}
				}
			},
		},
		{
			name: "segment bridge and uplink",
			in: "config segment 'iot'\n\toption vlan '20'\n\toption bridge 'br-iot'\n\toption uplink 'eth0'\n" +
				"config segment 'guest'\n\toption vlan '30'\n\toption bridge 'br-guest'\n\tlist interface 'wlan0.30'\n" +
				"config segment 'cams'\n\toption vlan '40'\n\toption bridge 'br-cams'\n\tlist interface 'br-cams'\n",
			check: func(t *testing.T, c *config.Config) {
				want := map[string]struct {
					bridge, uplink, vlanIf string
					ifaces                 []string
				}{
					// Without option interface: hostapd's naming and the bridge.
					"iot": {"br-iot", "eth0", "eth0.20", []string{"wlan0.20", "brvlan20", "br-iot"}},
					// With it: the list and the bridge.
					"guest": {"br-guest", "", "", []string{"wlan0.30", "br-guest"}},
					// Listed already: once.
					"cams": {"br-cams", "", "", []string{"br-cams"}},
				}
				for name, w := range want {
					s, _ := c.SegmentByName(name)
					if s.Bridge != w.bridge || s.Uplink != w.uplink || s.UplinkVLAN() != w.vlanIf {
						t.Errorf("%s: bridge %q uplink %q (%q), want %q %q (%q)", name, s.Bridge, s.Uplink, s.UplinkVLAN(), w.bridge, w.uplink, w.vlanIf)
					}
					if diff := cmp.Diff(w.ifaces, config.SegmentInterfaces(s, []string{"wlan0"})); diff != "" {
						t.Errorf("%s interfaces (-want +got):\n%s", name, diff)
					}
				}
			},
		},
		{
			name: "segment bridge name",
			in:   "config segment 'iot'\n\toption vlan '20'\n\toption bridge 'br-iot-and-more-than-15'\n",
			err:  `section "iot" (segment, line 1), option "bridge" (line 3): "br-iot-and-more-than-15" is not an interface name`,
		},
		{
			name: "segment bridge is a list",
			in:   "config segment 'iot'\n\toption vlan '20'\n\tlist bridge 'br-iot'\n",
			err:  `option "bridge" (line 3): must be an option`,
		},
		{
			name: "segment uplink name",
			in:   "config segment 'iot'\n\toption vlan '20'\n\toption bridge 'br-iot'\n\toption uplink 'eth/0'\n",
			err:  `section "iot" (segment, line 1), option "uplink" (line 4): "eth/0" is not an interface name`,
		},
		{
			name: "segment uplink without bridge",
			in:   "config segment 'iot'\n\toption vlan '20'\n\toption uplink 'eth0'\n",
			err:  `section "iot" (segment, line 1), option "uplink" (line 3): needs option bridge: the bridge the VLAN interface eth0.20 becomes a port of`,
		},
		{
			name: "segment uplink is its bridge",
			in:   "config segment 'iot'\n\toption vlan '20'\n\toption bridge 'br-iot'\n\toption uplink 'br-iot'\n",
			err:  `option "uplink" (line 4): br-iot is the segment's own bridge`,
		},
		{
			name: "segment uplink VLAN name too long",
			in:   "config segment 'iot'\n\toption vlan '2000'\n\toption bridge 'br-iot'\n\toption uplink 'enp0s31f6xy'\n",
			err:  `section "iot" (segment, line 1), option "uplink" (line 4): the VLAN interface name "enp0s31f6xy.2000" would be longer than 15 characters`,
		},
		{
			name: "bridge in two segments",
			in:   "config segment 'iot'\n\toption vlan '20'\n\toption bridge 'br-lan'\nconfig segment 'guest'\n\toption vlan '30'\n\toption bridge 'br-lan'\n",
			err:  `segment "guest" (line 4), option 'bridge': br-lan already carries segment "iot" (line 1)`,
		},
		{
			name: "bridge is another segment's interface",
			in:   "config segment 'iot'\n\toption vlan '20'\n\tlist interface 'br-lan'\nconfig segment 'guest'\n\toption vlan '30'\n\toption bridge 'br-lan'\n",
			err:  `segment "guest" (line 4), option 'bridge': br-lan already carries segment "iot" (line 1), by its option 'interface'`,
		},
		{
			name: "bridge is hostapd's bridge of another segment",
			in:   "config segment 'iot'\n\toption vlan '20'\nconfig segment 'guest'\n\toption vlan '30'\n\toption bridge 'brvlan20'\n",
			err:  `segment "guest" (line 3), option 'bridge': brvlan20 is the bridge hostapd makes for vlan 20, segment "iot" (line 1)'s`,
		},
		{
			name: "segment interface name",
			in:   "config segment 'iot'\n\toption vlan '20'\n\tlist interface 'br iot'\n",
			err:  `option "interface" (line 3): "br iot" is not an interface name`,
		},
		{
			name: "interface in two segments",
			in:   "config segment 'iot'\n\toption vlan '20'\n\tlist interface 'br-lan'\nconfig segment 'guest'\n\toption vlan '30'\n\tlist interface 'br-lan'\nconfig onboarding\n\toption default_segment 'iot'\n",
			err:  `segment "guest" (line 4), option 'interface': br-lan already carries segment "iot" (line 1)`,
		},
		{
			name: "unknown section type",
			in:   "config radio 'r'\n",
			err:  `section "r" (radio, line 1): unknown section type "radio"`,
		},
		{
			name: "relative path",
			in:   "config trustjoin 'main'\n\toption state_dir 'tmp'\n",
			err:  `option "state_dir" (line 2): "tmp" is not an absolute path`,
		},
		{
			name: "list used as option",
			in:   "config brski 'brski'\n\toption interface 'br-lan'\n",
			err:  `option "interface" (line 2): must be a list`,
		},
		{
			name: "option set twice",
			in:   "config trustjoin 'main'\n\toption log_level 'info'\n\toption log_level 'debug'\n",
			err:  `line 3: option "log_level" is set twice (first on line 2)`,
		},
		{
			name: "unterminated quote",
			in:   "config trustjoin 'main\n",
			err:  `test.uci: line 1: unterminated ' quote`,
		},
		{
			name: "option before section",
			in:   "option a 'b'\n",
			err:  `line 1: option outside of a config section`,
		},
		{
			name: "duplicate vlan",
			in:   "config segment 'a'\n\toption vlan '7'\nconfig segment 'b'\n\toption vlan '7'\n",
			err:  `segment "b" (line 3): vlan 7 is already used by segment "a" (line 1)`,
		},
		{
			// uci would merge them into one access point.
			name: "two sections of one name",
			in:   "config wifi 'home'\n\toption ifname 'wlan0'\nconfig wifi 'home'\n\toption ifname 'wlan1'\n",
			err:  `line 3: section "home" is already defined on line 1 (uci would merge the two)`,
		},
		{
			name: "two sections of one name and different types",
			in:   "config segment 'home'\n\toption vlan '7'\nconfig wifi 'home'\n\toption ifname 'wlan1'\n",
			err:  `line 3: section "home" is already defined on line 1`,
		},
		{
			name: "one interface in two wifi sections",
			in:   "config wifi 'home'\n\toption ifname 'wlan0'\nconfig wifi 'guest'\n\toption ifname 'wlan0'\n",
			err:  `wifi "guest" (line 3): interface "wlan0" is already wifi "home" (line 1)'s`,
		},
		{
			name: "reach unknown segment",
			in:   "config segment 'iot'\n\toption vlan '7'\n\tlist reach 'nowhere'\n",
			err:  `segment "iot", option 'reach': no segment named "nowhere"`,
		},
		{
			name: "default segment missing",
			in:   "config segment 'lan'\n\toption vlan '7'\n",
			err:  `onboarding, option 'default_segment': no segment named "iot"`,
		},
		{
			name: "quarantine with internet",
			in:   "config segment 'iot'\n\toption vlan '7'\nconfig segment 'q'\n\toption vlan '8'\n\toption quarantine '1'\n\toption internet '1'\n",
			err:  `segment "q": a quarantine segment cannot have internet or reach`,
		},
		{
			name: "anonymous segment",
			in:   "config segment\n\toption vlan '7'\n",
			err:  `section "@segment[0]" (segment, line 1): a segment section needs a name`,
		},
		{
			name: "web must not listen on every interface",
			in:   "config web 'web'\n\toption enabled '1'\n\tlist listen '0.0.0.0:8099'\n",
			err:  `"0.0.0.0:8099": 0.0.0.0 would listen on every interface, the WAN too`,
		},
		{
			name: "brski enabled without interface",
			in:   "config brski 'brski'\n\toption enabled '1'\n",
			err:  `the join proxy is enabled but listens on no interface`,
		},
		{
			name: "brski stateless without registrar",
			in:   "config brski 'brski'\n\toption enabled '1'\n\tlist interface 'br-lan'\n\toption stateless '1'\n",
			err:  `the stateless proxy needs registrar_host`,
		},
		{
			name: "dhcp leases: default, set, off",
			in:   "config trustjoin 'main'\n\toption dhcp_leases '/var/dhcp.leases'\n",
			check: func(t *testing.T, c *config.Config) {
				if c.Main.DHCPLeases != "/var/dhcp.leases" {
					t.Errorf("dhcp_leases %q", c.Main.DHCPLeases)
				}
				for in, want := range map[string]string{"": "/tmp/dhcp.leases", "config trustjoin 'main'\n\toption dhcp_leases ''\n": ""} {
					c, err := config.Parse("t", strings.NewReader(in))
					if err != nil {
						t.Errorf("%q: %v", in, err)
					} else if c.Main.DHCPLeases != want {
						t.Errorf("%q: dhcp_leases %q, want %q", in, c.Main.DHCPLeases, want)
					}
				}
			},
		},
		{
			name: "dhcp leases: a relative path",
			in:   "config trustjoin 'main'\n\toption dhcp_leases 'dhcp.leases'\n",
			err:  `option "dhcp_leases" (line 2): "dhcp.leases" is not an absolute path`,
		},
		{
			name: "controllers",
			in: "config controller 'hub'\n\tlist address '192.168.1.20'\n\tlist address 'fd00::20'\n\tlist mud_url 'https://maker.example/bulb.json'\n" +
				"config controller 'cloud'\n\tlist address '203.0.113.0/24'\n\tlist class 'https://maker.example/relay'\n",
			check: func(t *testing.T, c *config.Config) {
				want := []config.Controller{
					{Name: "hub", Addresses: []netip.Prefix{netip.MustParsePrefix("192.168.1.20/32"), netip.MustParsePrefix("fd00::20/128")},
						MUDURLs: []string{"https://maker.example/bulb.json"}},
					{Name: "cloud", Addresses: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, Classes: []string{"https://maker.example/relay"}},
				}
				if diff := cmp.Diff(want, c.Controllers, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
					t.Errorf("controllers (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "pre-authorised devices",
			in: "config preauth 'preauth_1'\n\toption uri 'DPP:K:abc;;'\n\toption segment 'guest'\n\toption name 'Camera'\n" +
				"config preauth 'cam2'\n\toption uri ' DPP:V:2;K:def;; '\n",
			check: func(t *testing.T, c *config.Config) {
				want := []config.Preauth{{Section: "preauth_1", URI: "DPP:K:abc;;", Segment: "guest", Name: "Camera"}, {Section: "cam2", URI: "DPP:V:2;K:def;;"}}
				if diff := cmp.Diff(want, c.Preauths); diff != "" {
					t.Errorf("preauths (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "pre-authorised device without a URI",
			in:   "config preauth 'p'\n\toption segment 'guest'\n",
			err:  `section "p" (preauth, line 1), option "uri": a pre-authorised device needs its DPP URI`,
		},
		{
			name: "pre-authorised device: not a DPP URI",
			in:   "config preauth 'p'\n\toption uri 'WIFI:S:home;;'\n",
			err:  `option "uri" (line 2): not a DPP URI`,
		},
		{
			name: "pre-authorised device: URI longer than TR-069 agents carry",
			in:   "config preauth 'p'\n\toption uri 'DPP:I:" + strings.Repeat("x", 1020) + ";K:abc;;'\n",
			err:  `more than 1023`,
		},
		{
			name: "pre-authorised device in no segment",
			in:   "config preauth 'p'\n\toption uri 'DPP:K:abc;;'\n\toption segment 'cameras'\n",
			err:  `preauth "p", option 'segment': no segment named "cameras"`,
		},
		{
			name: "pre-authorised device in quarantine",
			in:   "config preauth 'p'\n\toption uri 'DPP:K:abc;;'\n\toption segment 'quarantine'\n",
			err:  `preauth "p", option 'segment': "quarantine" is the quarantine segment`,
		},
		{
			name: "pre-authorised device: a name with a control character",
			in:   "config preauth 'p'\n\toption uri 'DPP:K:abc;;'\n\toption name 'a\x01b'\n",
			err:  `option "name"`,
		},
		{
			// An ACS's AddObject commits an empty section before the
			// SetParameterValues that fills it in: skipped, not refused,
			// and it does not replace the built-in segments.
			name: "sections being added",
			in:   "config segment 'segment_5'\nconfig controller 'controller_1'\nconfig preauth 'preauth_1'\n",
			check: func(t *testing.T, c *config.Config) {
				if diff := cmp.Diff([]string{"segment_5", "controller_1", "preauth_1"}, c.Incomplete); diff != "" {
					t.Errorf("incomplete (-want +got):\n%s", diff)
				}
				if len(c.Segments) != 4 || len(c.Controllers) != 0 || len(c.Preauths) != 0 {
					t.Errorf("segments %v, controllers %v, preauths %v", c.Segments, c.Controllers, c.Preauths)
				}
			},
		},
		{
			name: "controller without an address",
			in:   "config controller 'hub'\n\tlist class 'https://maker.example/relay'\n",
			err:  `section "hub" (controller, line 1), option "address": a controller needs at least one address`,
		},
		{
			name: "controller address",
			in:   "config controller 'hub'\n\tlist address 'hub.lan'\n\tlist class 'https://maker.example/relay'\n",
			err:  `option "address" (line 2): "hub.lan" is not an IP address or prefix`,
		},
		{
			name: "controller for nothing",
			in:   "config controller 'hub'\n\tlist address '192.168.1.20'\n",
			err:  `controller "hub": give a class, a mud_url or both, or it matches nothing`,
		},
		{
			name: "controller class of the router's own",
			in:   "config controller 'hub'\n\tlist address '192.168.1.20'\n\tlist class 'urn:ietf:params:mud:dns'\n",
			err:  `"urn:ietf:params:mud:dns" is the router's own service, which devices may use anyway`,
		},
		{
			name: "controller mud_url over http",
			in:   "config controller 'hub'\n\tlist address '192.168.1.20'\n\tlist mud_url 'http://maker.example/bulb.json'\n",
			err:  `option "mud_url" (line 3): "http://maker.example/bulb.json" is not an https URL`,
		},
		{
			name: "second main section",
			in:   "config trustjoin 'main'\nconfig trustjoin 'other'\n",
			err:  `only one "trustjoin" section is allowed`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Parse("test.uci", strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil {
					t.Fatalf("want error containing %q, got none", tt.err)
				}
				if !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %q does not contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := config.Load(filepath.Join(t.TempDir(), "nope"))
	if err == nil || !strings.Contains(err.Error(), "failed to read config") {
		t.Fatalf("want a read error, got %v", err)
	}
}

func TestParseUCIOversized(t *testing.T) {
	t.Parallel()
	big := "config trustjoin 'main'\n" + strings.Repeat("# padding padding padding padding\n", 40000)
	if _, err := config.ParseUCI(strings.NewReader(big)); err == nil {
		t.Fatal("want an error for a file over 1 MiB")
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "files", "etc", "config", "trustjoin")); err == nil {
		f.Add(string(b))
	}
	f.Add("config segment 'a'\n\toption vlan \"1\\\"\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		// Any input either parses or errors; it never panics.
		_, _ = config.Parse("fuzz", strings.NewReader(in))
	})
}

// UCI values: whatever a file says, written back the way uci(1) quotes
// it, it reads the same.
func FuzzParseUCI(f *testing.F) {
	f.Add("config wifi 'home'\n\toption ifname 'wlan0'\n\tlist listen \"192.168.1.1:8099\"\n")
	f.Add("config a b\n\toption x 'it'\\''s'\n\toption y \"a\\\"b\"#c\n")
	f.Fuzz(func(t *testing.T, in string) {
		secs, err := config.ParseUCI(strings.NewReader(in))
		if err != nil {
			return
		}
		q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
		var b strings.Builder
		for _, s := range secs {
			b.WriteString("config " + q(s.Type))
			if !s.Anonymous {
				b.WriteString(" " + q(s.Name))
			}
			b.WriteString("\n")
			for _, o := range s.Options {
				for _, v := range o.Values {
					kw := "option"
					if o.List {
						kw = "list"
					}
					b.WriteString("\t" + kw + " " + q(o.Name) + " " + q(v) + "\n")
				}
			}
		}
		again, err := config.ParseUCI(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("%q written back as %q does not parse: %v", in, b.String(), err)
		}
		if len(again) != len(secs) {
			t.Fatalf("%q: %d sections, %d written back", in, len(secs), len(again))
		}
		for i := range secs {
			a, z := secs[i], again[i]
			if a.Type != z.Type || a.Name != z.Name || len(a.Options) != len(z.Options) {
				t.Fatalf("%q: section %+v written back as %+v", in, a, z)
			}
			for j := range a.Options {
				if a.Options[j].Name != z.Options[j].Name || strings.Join(a.Options[j].Values, "\x00") != strings.Join(z.Options[j].Values, "\x00") {
					t.Fatalf("%q: option %+v written back as %+v", in, a.Options[j], z.Options[j])
				}
			}
		}
	})
}
