package openwrttest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

var (
	repo    string
	ipk     = map[string]string{} // "trustjoin-1", "trustjoin-2", "luci" -> file
	skipWhy string
)

const (
	v1 = "1.0.0-r1"
	v2 = "1.0.1-r1"
)

var releases = []string{"main", "24.10", "23.05"}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	r, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repo = r
	if os.Geteuid() != 0 {
		skipWhy = "needs root (chroot and namespaces)"
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "trustjoin-openwrt-ipk-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for _, v := range []string{v1, v2} {
		out := filepath.Join(dir, v)
		cmd := exec.Command(filepath.Join(repo, "scripts/build/ipk.sh"))
		cmd.Env = append(os.Environ(), "IPK_OUT="+out, "IPK_BIN="+filepath.Join(dir, "bin"), "IPK_ARCHS=x86_64", "VERSION="+v)
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "ipk.sh: %v\n%s", err, b)
			return 1
		}
	}
	ipk["trustjoin-1"] = filepath.Join(dir, v1, "trustjoin_"+v1+"_x86_64.ipk")
	ipk["trustjoin-2"] = filepath.Join(dir, v2, "trustjoin_"+v2+"_x86_64.ipk")
	ipk["luci"] = filepath.Join(dir, v1, "luci-app-trustjoin_"+v1+"_all.ipk")
	// The userland once, before the tests ask for roots in parallel.
	if b, err := exec.Command(filepath.Join(repo, "scripts/openwrt/build.sh")).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "scripts/openwrt/build.sh: %v\n%s", err, b)
		return 1
	}
	code := m.Run()
	for _, d := range templates {
		os.RemoveAll(filepath.Dir(d))
	}
	return code
}

var (
	templatesMu sync.Mutex
	templates   = map[string]string{}
)

// newRoot gives the test a root of its own: a copy of one root.sh made once
// per release, bands and Wi-Fi key.
func newRoot(t *testing.T, release, bands, key string) string {
	t.Helper()
	if skipWhy != "" {
		t.Skip(skipWhy)
	}
	id := release + "|" + bands + "|" + key
	templatesMu.Lock()
	tmpl, ok := templates[id]
	if !ok {
		d, err := os.MkdirTemp("", "trustjoin-openwrt-root-")
		if err != nil {
			templatesMu.Unlock()
			t.Fatal(err)
		}
		tmpl = filepath.Join(d, "root")
		args := []string{tmpl, "--release", release, "--bands", bands}
		if key != "" {
			args = append(args, "--wifi-key", key)
		}
		if b, err := exec.Command(filepath.Join(repo, "scripts/openwrt/root.sh"), args...).CombinedOutput(); err != nil {
			templatesMu.Unlock()
			t.Fatalf("root.sh %v: %v\n%s", args, err, b)
		}
		templates[id] = tmpl
	}
	templatesMu.Unlock()
	root := filepath.Join(t.TempDir(), "root")
	if b, err := exec.Command("cp", "-a", tmpl, root).CombinedOutput(); err != nil {
		t.Fatalf("copy root: %v\n%s", err, b)
	}
	for name, f := range ipk {
		if b, err := exec.Command("cp", f, filepath.Join(root, "root", name+".ipk")).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v\n%s", f, err, b)
		}
	}
	return root
}

// boot starts what a booted router runs that the tests need: ubusd, procd
// (as the service manager beside ubusd) and rpcd, each waited for.
const boot = `
set -e
mkdir -p /var/run/ubus
ubusd &
# ubusd answers (its socket exists before it listens: a client started
# then would fail to connect and exit)
n=0; until ubus list >/dev/null 2>&1; do n=$((n+1)); [ $n -lt 200 ] || { echo "no ubusd"; exit 1; }; sleep 0.05; done
procd -S >/tmp/procd.log 2>&1 &
rpcd &
n=0; until ubus list service >/dev/null 2>&1 && ubus list session >/dev/null 2>&1; do n=$((n+1)); [ $n -lt 200 ] || { echo "no procd/rpcd"; exit 1; }; sleep 0.05; done
/sbin/reload_config # as /etc/init.d/boot does: the checksums later runs compare with
# until COMMAND: wait for COMMAND to succeed (an event, not a delay), at most 30 s.
until_ok() { n=0; until eval "$1" >/dev/null 2>&1; do n=$((n+1)); [ $n -lt 300 ] || { echo "TIMEOUT waiting for: $1"; return 1; }; sleep 0.1; done; }
pid_of() { jsonfilter -s "$(ubus call service list '{"name":"trustjoin"}' 2>/dev/null)" -e '@.trustjoin.instances.*.pid' 2>/dev/null; }
set +e
`

// sh runs a script in the root (after boot), returning its output; a
// failing script fails the test.
func sh(t *testing.T, root, script string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, "root", "test.sh"), []byte(boot+script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(repo, "scripts/openwrt/chroot.sh"), root, "/bin/sh", "/root/test.sh")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script failed: %v\n%s\n--- script:\n%s", err, b, script)
	}
	return string(b)
}

// uciShow parses `uci show` lines of one package: section -> option -> value
// (the section's type under ".type").
func uciShow(out, pkg string) map[string]map[string]string {
	m := map[string]map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, pkg+".")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, "'")
		sec, opt, hasOpt := strings.Cut(k, ".")
		if m[sec] == nil {
			m[sec] = map[string]string{}
		}
		if hasOpt {
			m[sec][opt] = v
		} else {
			m[sec][".type"] = v
		}
	}
	return m
}

// between returns the lines between "== NAME" and the next "== ".
func between(out, name string) string {
	_, rest, ok := strings.Cut(out, "== "+name+"\n")
	if !ok || strings.HasPrefix(rest, "== ") {
		return ""
	}
	if i := strings.Index(rest, "\n== "); i >= 0 {
		rest = rest[:i+1]
	}
	return rest
}

// report prints what the checks read, in sections.
const report = `
echo "== wireless"; uci show wireless
echo "== trustjoin"; uci show trustjoin
echo "== vlan"; cat /etc/trustjoin/vlan/*.vlan 2>/dev/null || true
echo "== modes"; stat -c '%a %U %G %n' /etc/trustjoin /etc/trustjoin/psk /etc/trustjoin/vlan /etc/trustjoin/psk/* /etc/trustjoin/vlan/* 2>/dev/null || true
echo "== end"
`

// waitReady waits for the daemon procd started to answer as ready.
const waitReady = `
until_ok 'trustjoin status --json | grep -q "\"ready\": true"' || { cat /tmp/procd.log; trustjoin status || true; exit 1; }
echo "== ready"
`

type state struct {
	wireless  map[string]map[string]string
	trustjoin map[string]map[string]string
	vlan      []string
	modes     map[string]string // path -> "mode user group"
}

func parse(out string) state {
	s := state{
		wireless:  uciShow(between(out, "wireless"), "wireless"),
		trustjoin: uciShow(between(out, "trustjoin"), "trustjoin"),
		modes:     map[string]string{},
	}
	for _, l := range strings.Split(strings.TrimSpace(between(out, "vlan")), "\n") {
		if l != "" {
			s.vlan = append(s.vlan, l)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(between(out, "modes")), "\n") {
		f := strings.Fields(l)
		if len(f) == 4 {
			s.modes[f[3]] = f[0] + " " + f[1] + " " + f[2]
		}
	}
	return s
}

// managed: the wifi-ifaces pointed at trustjoin's PSK files.
func (s state) managed() []string {
	var out []string
	for sec, o := range s.wireless {
		if strings.HasPrefix(o["wpa_psk_file"], "/etc/trustjoin/psk/") {
			out = append(out, sec)
		}
	}
	sort.Strings(out)
	return out
}

// check holds for every install: each managed access point has an
// interface name of its own within the kernel's 15 characters, a trustjoin
// wifi section naming it and its PSK file, its own VLAN prefix, files hostapd
// (group network) can read and nobody else; trustjoin's own sections keep
// their types.
func (s state) check(t *testing.T) {
	t.Helper()
	ifnames := map[string]string{}
	for _, sec := range s.managed() {
		o := s.wireless[sec]
		ifn := o["ifname"]
		if ifn == "" || len(ifn) > 15 {
			t.Errorf("%s: ifname %q", sec, ifn)
		}
		if other, dup := ifnames[ifn]; dup {
			t.Errorf("%s and %s share the interface name %q", sec, other, ifn)
		}
		ifnames[ifn] = sec
		found := false
		for tsec, to := range s.trustjoin {
			if to[".type"] == "wifi" && to["ifname"] == ifn {
				found = true
				if to["psk_file"] != o["wpa_psk_file"] {
					t.Errorf("trustjoin.%s.psk_file %q, wireless.%s.wpa_psk_file %q", tsec, to["psk_file"], sec, o["wpa_psk_file"])
				}
			}
		}
		if !found {
			t.Errorf("%s (%s): no trustjoin wifi section", sec, ifn)
		}
		if got := s.modes[o["wpa_psk_file"]]; got != "640 root network" {
			t.Errorf("%s: %q, want 640 root network", o["wpa_psk_file"], got)
		}
		if vf := o["vlan_file"]; strings.HasPrefix(vf, "/etc/trustjoin/") {
			if got := s.modes[vf]; got != "640 root network" {
				t.Errorf("%s: %q, want 640 root network", vf, got)
			}
		}
	}
	seen := map[string]bool{}
	for _, v := range s.vlan {
		if seen[v] {
			t.Errorf("two access points share the VLAN interface names %q: %v", v, s.vlan)
		}
		seen[v] = true
	}
	if len(s.managed()) > 0 {
		for path, want := range map[string]string{
			"/etc/trustjoin":      "710 root network",
			"/etc/trustjoin/psk":  "2750 root network",
			"/etc/trustjoin/vlan": "2750 root network",
		} {
			if got := s.modes[path]; got != want {
				t.Errorf("%s: %q, want %q", path, got, want)
			}
		}
	}
	for sec, typ := range map[string]string{"main": "trustjoin", "iot": "segment", "guest": "segment", "trusted": "segment", "web": "web", "mud": "mud"} {
		if got := s.trustjoin[sec][".type"]; got != typ {
			t.Errorf("trustjoin.%s is %q, want %q", sec, got, typ)
		}
	}
}

// Real-world wireless configurations, each applied to a stock root before
// `opkg install`, with the access points trustjoin must take on.
// Main runs all; the older releases those marked every (their scripts differ
// in functions.sh, procd.sh and the wifi generator, not in what the others
// exercise).
var configurations = []struct {
	name, bands, key string
	setup            string // uci batch commands
	want             []string
	every            bool
}{
	{name: "stock dual-band", bands: "2g 5g", key: "household1", want: []string{"default_radio0", "default_radio1"}, every: true},
	{name: "stock single-band", bands: "2g", key: "household1", want: []string{"default_radio0"}},
	{name: "stock tri-band", bands: "2g 5g 5g", key: "household1", want: []string{"default_radio0", "default_radio1", "default_radio2"}},
	{name: "as shipped: open and disabled", bands: "2g 5g"},
	{name: "user-named sections, one named like trustjoin's", bands: "2g 5g", setup: `
delete wireless.default_radio0
delete wireless.default_radio1
set wireless.home=wifi-iface
set wireless.home.device=radio0
set wireless.home.network=lan
set wireless.home.mode=ap
set wireless.home.ssid=Home
set wireless.home.encryption=psk2
set wireless.home.key=household1
set wireless.iot=wifi-iface
set wireless.iot.device=radio1
set wireless.iot.network=lan
set wireless.iot.mode=ap
set wireless.iot.ssid=Things
set wireless.iot.encryption=psk-mixed
set wireless.iot.key=household1
set wireless.main=wifi-iface
set wireless.main.device=radio1
set wireless.main.network=lan
set wireless.main.mode=ap
set wireless.main.ssid=Home5
set wireless.main.encryption=sae-mixed
set wireless.main.key=household1
add wireless wifi-iface
set wireless.@wifi-iface[-1].device=radio0
set wireless.@wifi-iface[-1].network=lan
set wireless.@wifi-iface[-1].mode=ap
set wireless.@wifi-iface[-1].ssid=Anonymous
set wireless.@wifi-iface[-1].encryption=psk2
set wireless.@wifi-iface[-1].key=household1
set wireless.@wifi-iface[-1].ifname=wlan-anon
`, want: []string{"@wifi-iface[3]", "home", "iot", "main"}, every: true},
	{name: "SAE-only beside WPA2", bands: "2g 5g", key: "household1", setup: `
set wireless.default_radio1.encryption=sae
`, want: []string{"default_radio0"}},
	{name: "open and WPA2 guest networks", bands: "2g 5g", key: "household1", setup: `
set wireless.guest=wifi-iface
set wireless.guest.device=radio0
set wireless.guest.network=guest
set wireless.guest.mode=ap
set wireless.guest.ssid=Guests
set wireless.guest.encryption=psk2
set wireless.guest.key=guestpass1
set wireless.guest.isolate=1
set wireless.guest_open=wifi-iface
set wireless.guest_open.device=radio1
set wireless.guest_open.network=guest
set wireless.guest_open.mode=ap
set wireless.guest_open.ssid=Cafe
set wireless.guest_open.encryption=none
`, want: []string{"default_radio0", "default_radio1"}, every: true},
	{name: "a station uplink", bands: "2g 5g", key: "household1", setup: `
set wireless.wwan=wifi-iface
set wireless.wwan.device=radio1
set wireless.wwan.network=wwan
set wireless.wwan.mode=sta
set wireless.wwan.ssid=Upstream
set wireless.wwan.encryption=psk2
set wireless.wwan.key=upstream1
`, want: []string{"default_radio0", "default_radio1"}},
	{name: "user wifi-vlans", bands: "2g 5g", key: "household1", setup: `
set wireless.vlan_cam=wifi-vlan
set wireless.vlan_cam.iface=default_radio0
set wireless.vlan_cam.name=cam
set wireless.vlan_cam.vid=100
set wireless.vlan_cam.network=lan
`, want: []string{"default_radio0", "default_radio1"}},
}

// TestInstall: `opkg install` on each configuration and release gives the
// access points trustjoin's files without collisions, and a daemon that
// starts (procd starts it from default_postinst).
func TestInstall(t *testing.T) {
	for _, rel := range releases {
		for _, c := range configurations {
			rel, c := rel, c
			if rel != "main" && !c.every {
				continue
			}
			t.Run(rel+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				root := newRoot(t, rel, c.bands, c.key)
				script := ""
				if c.setup != "" {
					script += "uci -q batch <<'EOF'\n" + c.setup + "commit wireless\nEOF\n"
				}
				script += "opkg install /root/trustjoin-1.ipk\n" + waitReady + report
				s := parse(sh(t, root, script))
				if got := s.managed(); strings.Join(got, " ") != strings.Join(c.want, " ") {
					t.Errorf("access points with trustjoin's PSK file: %v, want %v", got, c.want)
				}
				s.check(t)
				if c.name == "user wifi-vlans" {
					for _, sec := range s.managed() {
						if vf := s.wireless[sec]["vlan_file"]; vf != "" {
							t.Errorf("%s: vlan_file %q set although the householder has wifi-vlans", sec, vf)
						}
					}
				}
			})
		}
	}
}
