package openwrttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// legacyCommit is the last commit whose install script cut tj-<section> to
// the kernel's 15 characters: on a stock dual-band router default_radio0 and
// default_radio1 both became tj-default_radi, with one PSK file and one VLAN
// file between them, and the daemon refused to start (issue 13, item 1).
// Routers have that package installed; the fixed one must repair them on
// upgrade.
const legacyCommit = "7b261532d5d2a15c77ab077fbc7247c52ad810bc"

const vLegacy = "0.9.0-r1"

var (
	legacyOnce sync.Once
	legacyIPK  string
	legacyErr  error
)

// legacyPackage builds that commit's x86_64 .ipk with its own ipk.sh (its
// targets list cut to x86_64: it builds every target, and the package's
// contents for one do not depend on the others).
func legacyPackage(t *testing.T) string {
	t.Helper()
	legacyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "trustjoin-legacy-")
		if err != nil {
			legacyErr = err
			return
		}
		templatesMu.Lock()
		templates["legacy"] = filepath.Join(dir, "src") // removed with the roots
		templatesMu.Unlock()
		src := filepath.Join(dir, "src")
		os.MkdirAll(src, 0o755)
		steps := [][]string{
			{"sh", "-c", fmt.Sprintf("git -C %s archive %s | tar -x -C %s", repo, legacyCommit, src)},
			{"sed", "-i", `/^TARGETS="/,/^"/{/^x86_64\|^TARGETS\|^"/!d}`, filepath.Join(src, "scripts/build/targets.sh")},
			{filepath.Join(src, "scripts/build/ipk.sh")},
		}
		for _, s := range steps {
			cmd := exec.Command(s[0], s[1:]...)
			cmd.Env = append(os.Environ(), "IPK_OUT="+filepath.Join(dir, "out"), "VERSION="+vLegacy)
			if b, err := cmd.CombinedOutput(); err != nil {
				legacyErr = fmt.Errorf("%v: %v\n%s", s, err, b)
				return
			}
		}
		legacyIPK = filepath.Join(dir, "out", "trustjoin_"+vLegacy+"_x86_64.ipk")
	})
	if legacyErr != nil {
		t.Fatalf("building the package of %s (the test needs the repository's history): %v", legacyCommit, legacyErr)
	}
	return legacyIPK
}

// TestUpgradeFromDuplicateNames: a stock dual-band router with the package
// that named both access points tj-default_radi, upgraded from a feed with
// opkg update and opkg upgrade: the daemon starts, every access point has an
// interface name, PSK file and VLAN prefix of its own (tj-default_radi left
// no room for the segments' VLAN suffix either), the lines of the shared PSK
// file are in both access points' files, and the old files are gone.
func TestUpgradeFromDuplicateNames(t *testing.T) {
	for _, rel := range releases {
		rel := rel
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			root := newRoot(t, rel, "2g 5g", "household1")
			old := legacyPackage(t)
			if b, err := exec.Command("cp", old, filepath.Join(root, "root", "trustjoin-old.ipk")).CombinedOutput(); err != nil {
				t.Fatalf("copy: %v\n%s", err, b)
			}
			out := sh(t, root, `
opkg install /root/trustjoin-old.ipk
echo "== old"
uci show wireless | grep -E "\.(ifname|wpa_psk_file|vlan_file)="
# A line of the householder's in the shared file (no keyid: not trustjoin's).
echo "vlanid=3 02:00:00:00:00:aa printer-passphrase" >> /etc/trustjoin/psk/tj-default_radi.psk
echo "== oldvlan"; cat /etc/trustjoin/vlan/tj-default_radi.vlan
# The new package in a feed, as a router upgrades: opkg update, opkg upgrade.
mkdir -p /root/feed && cp /root/trustjoin-2.ipk /root/feed/trustjoin.ipk
(cd /root/feed && { tar -xzOf trustjoin.ipk ./control.tar.gz | tar -xzOf - ./control
echo "Filename: trustjoin.ipk"; echo "Size: $(wc -c < trustjoin.ipk)"
echo "SHA256sum: $(sha256sum trustjoin.ipk | cut -d' ' -f1)"; echo; } > Packages)
echo "src local file:///root/feed" > /etc/opkg/customfeeds.conf
opkg update && opkg upgrade trustjoin
opkg list-installed | grep '^trustjoin '
until_ok '[ -n "$(pid_of)" ]'
`+waitReady+report+`
echo "== psk"
for s in default_radio0 default_radio1; do echo "$s $(cat "$(uci get wireless.$s.wpa_psk_file)")"; done
echo "== end2"
`)
			if strings.Count(between(out, "old"), "ifname='tj-default_radi'") != 2 {
				t.Fatalf("the old package did not give both access points tj-default_radi:\n%s", out)
			}
			if !strings.Contains(out, "trustjoin - "+v2) {
				t.Errorf("not upgraded to %s:\n%s", v2, out)
			}
			s := parse(out)
			if got := strings.Join(s.managed(), " "); got != "default_radio0 default_radio1" {
				t.Errorf("after the upgrade trustjoin has %q", got)
			}
			s.check(t)
			for _, sec := range s.managed() {
				vf := s.wireless[sec]["vlan_file"]
				if !strings.HasPrefix(vf, "/etc/trustjoin/vlan/") {
					t.Errorf("%s: vlan_file %q", sec, vf)
				}
				for other, o := range s.wireless {
					if other != sec && o["vlan_file"] == vf {
						t.Errorf("%s and %s share the VLAN file %s", sec, other, vf)
					}
				}
			}
			if len(s.vlan) != 2 {
				t.Errorf("VLAN files: %q, want one per access point", s.vlan)
			}
			for _, l := range strings.Split(strings.TrimSpace(between(out, "psk")), "\n") {
				if !strings.Contains(l, "vlanid=3 02:00:00:00:00:aa printer-passphrase") {
					t.Errorf("the shared PSK file's line is lost: %q", l)
				}
			}
			for path := range s.modes {
				if strings.Contains(path, "tj-default_radi") {
					t.Errorf("left behind: %s", path)
				}
			}
		})
	}
}
