package openwrttest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestUpgradeAndRemove: an upgrade (OpenWrt runs the uci-defaults script
// again) keeps the configuration the householder changed and never hands
// out an interface name or VLAN prefix twice; removal stops the service,
// gives the access points back as they were and leaves nothing behind but
// the changed conffile.
func TestUpgradeAndRemove(t *testing.T) {
	for _, rel := range releases {
		rel := rel
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			root := newRoot(t, rel, "2g 5g", "household1")
			out := sh(t, root, `
opkg install /root/trustjoin-1.ipk
`+waitReady+`
uci set trustjoin.main.log_level=debug
uci commit trustjoin
uci -q batch <<'UCI'
set wireless.extra=wifi-iface
set wireless.extra.device=radio0
set wireless.extra.network=lan
set wireless.extra.mode=ap
set wireless.extra.ssid=Extra
set wireless.extra.encryption=psk2
set wireless.extra.key=household1
commit wireless
UCI
opkg install /root/trustjoin-2.ipk
opkg list-installed | grep '^trustjoin '
until_ok '[ -n "$(pid_of)" ]'
`+waitReady+report+`
echo "== loglevel"; uci get trustjoin.main.log_level
echo "== removing"
pid=$(pid_of)
opkg remove trustjoin
echo "== after remove"
uci show wireless | grep -E "wpa_psk_file|vlan_file|vlan_bridge|per_sta_vif|dynamic_vlan|vlan_naming|ifname='tj-" | sed 's/^/left: /' || true
for f in /etc/trustjoin /usr/bin/trustjoin /etc/init.d/trustjoin /usr/libexec/rpcd/trustjoin /var/run/trustjoin; do [ ! -e $f ] || echo "left: $f"; done
ls /etc/rc.d | grep trustjoin | sed 's/^/left: rc.d /' || true
[ -z "$(pid_of)" ] || echo "left: procd service"
[ ! -d /proc/$pid ] || echo "left: process $pid"
until_ok '! ubus list trustjoin' || echo "left: ubus object"
echo "== end2"
`)
			if !strings.Contains(out, "trustjoin - "+v2) {
				t.Errorf("not upgraded to %s:\n%s", v2, out)
			}
			s := parse(out)
			if got := strings.Join(s.managed(), " "); got != "default_radio0 default_radio1 extra" {
				t.Errorf("after the upgrade trustjoin has %q", got)
			}
			s.check(t)
			if lvl := strings.TrimSpace(between(out, "loglevel")); lvl != "debug" {
				t.Errorf("the householder's log_level became %q on upgrade", lvl)
			}
			for _, l := range strings.Split(between(out, "after remove"), "\n") {
				if strings.HasPrefix(l, "left: ") || strings.HasPrefix(l, "TIMEOUT") {
					t.Errorf("after opkg remove: %s", l)
				}
			}
		})
	}
}

// TestProcd: the init script under real procd: started by
// default_postinst, respawned after kill -9, `uci commit` + reload_config
// (what `uci commit` from LuCI/rpcd triggers itself) and
// `/etc/init.d/trustjoin reload` reach the running daemon as SIGHUP (same
// process, new configuration in force), `service trustjoin status`, stop.
// rpcd serves the plugin at once after install (postinst HUPs it), and the
// LuCI package clears LuCI's caches. trustjoin status says when the
// installed hostapd is a basic variant (no dynamic VLANs).
func TestProcd(t *testing.T) {
	for _, rel := range releases {
		rel := rel
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			root := newRoot(t, rel, "2g 5g", "household1")
			out := sh(t, root, `
touch /tmp/luci-indexcache.abc; mkdir -p /tmp/luci-modulecache; touch /tmp/luci-modulecache/x
opkg install /root/trustjoin-1.ipk
`+waitReady+`
echo "== rpcd"; ubus list trustjoin || echo "NO UBUS OBJECT"
opkg install /root/luci.ipk >/dev/null
echo "== luci caches"; ls -d /tmp/luci-indexcache.* /tmp/luci-modulecache 2>/dev/null || true
pid=$(pid_of)
kill -9 $pid
until_ok '[ -n "$(pid_of)" ] && [ "$(pid_of)" != '$pid' ]' || echo "NOT RESPAWNED"
`+waitReady+`
pid=$(pid_of)
echo "== status"; service trustjoin status
echo "== reloads"
reload_config # the checksums a boot after the install would have taken
uci set trustjoin.main.log_level=debug
uci commit trustjoin
reload_config
until_ok 'grep -q "log_level .debug" /etc/trustjoin/last-good.uci' || echo "NOT RELOADED BY reload_config"
[ "$(pid_of)" = "$pid" ] || echo "RESTARTED, NOT RELOADED"
ubus call uci set '{"config":"trustjoin","section":"main","values":{"log_level":"warn"}}'
ubus call uci commit '{"config":"trustjoin"}'
until_ok 'grep -q "log_level .warn" /etc/trustjoin/last-good.uci' || echo "NOT RELOADED BY ubus uci commit"
uci set trustjoin.main.log_level=error
uci commit trustjoin
/etc/init.d/trustjoin reload
until_ok 'grep -q "log_level .error" /etc/trustjoin/last-good.uci' || echo "NOT RELOADED BY init.d reload"
[ "$(pid_of)" = "$pid" ] || echo "RESTARTED, NOT RELOADED"
echo "== basic"; trustjoin status | grep -c "no dynamic VLANs"
echo "== per_sta_vif basic"; uci show wireless | grep -c "per_sta_vif=" || true
opkg remove wpad-basic-mbedtls >/dev/null
echo "== full"; trustjoin status | grep -c "no dynamic VLANs"
echo "== stopping"
/etc/init.d/trustjoin stop
until_ok '[ ! -d /proc/'$pid' ]' || echo "NOT STOPPED"
echo "== stopped"; service trustjoin status || true
echo "== end"
`)
			for _, bad := range []string{"NO UBUS OBJECT", "NOT RESPAWNED", "NOT RELOADED", "RESTARTED", "NOT STOPPED", "TIMEOUT"} {
				if strings.Contains(out, bad) {
					t.Errorf("%s:\n%s", bad, out)
				}
			}
			if got := strings.TrimSpace(between(out, "luci caches")); got != "" {
				t.Errorf("LuCI's caches survived the install of its package: %s", got)
			}
			if got := strings.TrimSpace(between(out, "status")); got != "running" {
				t.Errorf("service trustjoin status: %q, want running", got)
			}
			// OpenWrt's default wpad-basic-* has no dynamic VLANs: said, and
			// no longer once it is gone (a full variant in its place).
			if got := strings.TrimSpace(between(out, "basic")); got != "1" {
				t.Errorf("trustjoin status does not say that wpad-basic-mbedtls lacks dynamic VLANs (%q)", got)
			}
			if got := strings.TrimSpace(between(out, "full")); got != "0" {
				t.Errorf("trustjoin status still warns without wpad-basic-mbedtls (%q)", got)
			}
			// No per_sta_vif while the basic hostapd is there: it would
			// leave every station unbridged (lab: basic.sh).
			if got := strings.TrimSpace(between(out, "per_sta_vif basic")); got != "0" {
				t.Errorf("per_sta_vif set with wpad-basic-mbedtls installed (%q)", got)
			}
			if got := strings.TrimSpace(between(out, "stopped")); strings.Contains(got, "running") {
				t.Errorf("after stop, service trustjoin status: %q", got)
			}
		})
	}
}

// TestHostapdJail: hostapd as OpenWrt starts it (the release's wpad.init
// under real procd and ujail: user and group network, wpad.json's
// capabilities, no CAP_DAC_OVERRIDE) reads the PSK and VLAN files trustjoin
// points it at, and none of trustjoin's secrets. The program in the jail is
// a stand-in that does hostapd's file reads (the access points' files come
// from the wireless configuration) and reports them.
func TestHostapdJail(t *testing.T) {
	for _, rel := range []string{"main", "23.05"} {
		rel := rel
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			root := newRoot(t, rel, "2g 5g", "household1")
			out := sh(t, root, `
opkg install /root/trustjoin-1.ipk
`+waitReady+`
for s in default_radio0 default_radio1; do
	uci -q get wireless.$s.wpa_psk_file
	uci -q get wireless.$s.vlan_file
done > /etc/hostapd-reads
ls /etc/trustjoin/*.* /etc/config/trustjoin > /etc/hostapd-must-not-read
cat > /usr/sbin/hostapd <<'S'
#!/bin/sh
out=/var/run/hostapd/result
{
	echo "id $(id -u):$(id -g)"
	while read -r f; do cat "$f" >/dev/null 2>&1 && echo "read $f" || echo "denied $f"; done < /etc/hostapd-reads
	while read -r f; do cat "$f" >/dev/null 2>&1 && echo "read $f" || echo "denied $f"; done < /etc/hostapd-must-not-read
	ls /etc/trustjoin >/dev/null 2>&1 && echo "read /etc/trustjoin/" || echo "denied /etc/trustjoin/"
} > $out.tmp
mv $out.tmp $out
exec sleep 1000
S
chmod 0755 /usr/sbin/hostapd
/etc/init.d/wpad start
until_ok '[ -f /var/run/hostapd/result ]' || cat /tmp/procd.log
echo "== jailed"; ubus call service list '{"name":"wpad"}' | grep -c '"jail"' || true
echo "== result"; cat /var/run/hostapd/result; echo "== must"; cat /etc/hostapd-reads; echo "== end"
`)
			if got := strings.TrimSpace(between(out, "jailed")); got == "0" || got == "" {
				t.Errorf("wpad.init did not put hostapd in a jail:\n%s", out)
			}
			res := between(out, "result")
			if !strings.Contains(res, "id 101:101") {
				t.Errorf("hostapd did not run as network:network:\n%s", res)
			}
			must := strings.Fields(between(out, "must"))
			if len(must) != 4 {
				t.Fatalf("want two PSK and two VLAN files, the wireless config names %v", must)
			}
			for _, f := range must {
				if !strings.Contains(res, "read "+f+"\n") {
					t.Errorf("hostapd cannot read %s:\n%s", f, res)
				}
			}
			for _, l := range strings.Split(res, "\n") {
				if strings.HasPrefix(l, "read ") && !strings.Contains(" "+strings.Join(must, " ")+" ", " "+strings.TrimPrefix(l, "read ")+" ") {
					t.Errorf("hostapd can %s", l)
				}
			}
		})
	}
}

// TestForceReinstallKeepsDevices: `opkg install --force-reinstall`, which
// removes the package before installing it again, keeps the devices
// (a pre-authorised camera here): before, the removal's postrm deleted
// /etc/trustjoin and every device lost its credential. A real `opkg
// remove` still leaves nothing behind.
func TestForceReinstallKeepsDevices(t *testing.T) {
	for _, rel := range releases {
		rel := rel
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			root := newRoot(t, rel, "2g 5g", "household1")
			out := sh(t, root, `
opkg install /root/trustjoin-1.ipk
`+waitReady+`
trustjoin preauth add 'DPP:V:2;K:MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADURzxmttZoIRIPWGoQMV00XHWCAQIhXruVWOz0NjlkIA=;;' --name isp-camera
echo "== before"; trustjoin preauth list
opkg install --force-reinstall /root/trustjoin-1.ipk
until_ok '[ -n "$(pid_of)" ]'
`+waitReady+`
echo "== after"; trustjoin preauth list
opkg remove trustjoin >/dev/null
echo "== removed"; [ ! -e /etc/trustjoin ] || echo "left: /etc/trustjoin"
echo "== end2"
`)
			if !strings.Contains(between(out, "before"), "isp-camera") {
				t.Fatalf("the camera was not pre-authorised:\n%s", out)
			}
			if !strings.Contains(between(out, "after"), "isp-camera") {
				t.Errorf("opkg install --force-reinstall lost the pre-authorised camera:\n%s", out)
			}
			if l := between(out, "removed"); strings.Contains(l, "left: ") {
				t.Errorf("after opkg remove: %s", l)
			}
		})
	}
}

// TestHostapdSwap: the householder replaces OpenWrt's basic hostapd with a
// full one (`opkg remove wpad-basic-mbedtls && opkg install wpad-mbedtls`,
// as trustjoin's fix says) and trustjoin's access points get per_sta_vif
// and a Wi-Fi reload without hand work; the reverse takes it away again.
// Nothing is written or reloaded when nothing changed: a restart of the
// daemon, the script run by hand, another package installed. The wpad
// packages are stand-ins with the real ones' names, Provides and Conflicts
// but no files (the daemon goes by the package database); /sbin/wifi is
// wrapped to record that it was called (netifd is not running here).
func TestHostapdSwap(t *testing.T) {
	for _, rel := range releases {
		rel := rel
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			root := newRoot(t, rel, "2g 5g", "household1")
			basics := "wpad-basic-mbedtls, wpad-basic-openssl, wpad-basic-wolfssl, wpad-mini"
			fakeIPK(t, root, "wpad-mbedtls", "Provides: hostapd, wpa-supplicant\nConflicts: "+basics+"\n")
			fakeIPK(t, root, "wpad-basic-mbedtls", "Provides: hostapd, wpa-supplicant\nConflicts: wpad-mbedtls, wpad-openssl, wpad-wolfssl\n")
			fakeIPK(t, root, "tcpdump", "")
			out := sh(t, root, `
mv /sbin/wifi /sbin/wifi.real
printf '#!/bin/sh\necho "wifi $*" >> /tmp/wifi.log\nexec /sbin/wifi.real "$@"\n' > /sbin/wifi
chmod 0755 /sbin/wifi
opkg install /root/trustjoin-1.ipk
`+waitReady+`
psv() { uci show wireless | grep -c "per_sta_vif='1'"; }
reloads() { grep -c "^wifi reload" /tmp/wifi.log 2>/dev/null || echo 0; }
echo "== basic"; psv; reloads
opkg remove wpad-basic-mbedtls >/dev/null && opkg install /root/wpad-mbedtls.ipk >/dev/null
until_ok '[ "$(psv)" = 2 ] && [ "$(reloads)" = 1 ]'
echo "== full"; psv; reloads
uci show wireless | grep per_sta_vif
w=$(stat -c '%i %y' /etc/config/wireless)
pid=$(pid_of); /etc/init.d/trustjoin restart
until_ok '[ -n "$(pid_of)" ] && [ "$(pid_of)" != '$pid' ]'
`+waitReady+`
/usr/libexec/trustjoin/hostapd-vlans reload
opkg install /root/tcpdump.ipk >/dev/null
pid=$(pid_of); /etc/init.d/trustjoin restart
until_ok '[ -n "$(pid_of)" ] && [ "$(pid_of)" != '$pid' ]'
`+waitReady+`
echo "== unchanged"; [ "$(stat -c '%i %y' /etc/config/wireless)" = "$w" ] && echo same || echo "written: $w -> $(stat -c '%i %y' /etc/config/wireless)"; reloads
opkg remove wpad-mbedtls >/dev/null && opkg install /root/wpad-basic-mbedtls.ipk >/dev/null
until_ok '[ "$(psv)" = 0 ] && [ "$(reloads)" = 2 ]'
echo "== basic again"; psv; reloads
echo "== status"; trustjoin status | grep -c "no dynamic VLANs"
echo "== end"
`)
			bad := false
			for _, c := range []struct{ section, want string }{
				{"basic", "0\n0\n"},
				{"full", "2\n1\n"},
				{"unchanged", "same\n1\n"},
				{"basic again", "0\n2\n"},
				{"status", "1\n"},
			} {
				if got := between(out, c.section); !strings.HasPrefix(got, c.want) {
					t.Errorf("%s: per_sta_vif on / wifi reloads %q, want %q", c.section, got, c.want)
					bad = true
				}
			}
			if bad {
				t.Log(out)
			}
		})
	}
}

// fakeIPK writes /root/NAME.ipk into the root: a package with no files and
// the given extra control fields, with OpenWrt's default maintainer scripts.
func fakeIPK(t *testing.T, root, name, fields string) {
	t.Helper()
	targz := func(files map[string]string) []byte {
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		w := tar.NewWriter(z)
		w.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755})
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			mode := int64(0o644)
			if strings.HasPrefix(n, "./post") || strings.HasPrefix(n, "./pre") {
				mode = 0o755
			}
			w.WriteHeader(&tar.Header{Name: n, Mode: mode, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
			w.Write([]byte(files[n]))
		}
		w.Close()
		z.Close()
		return b.Bytes()
	}
	control := "Package: " + name + "\nVersion: 1\nArchitecture: x86_64\n" + fields + "Installed-Size: 0\nDescription: a stand-in\n"
	ipk := targz(map[string]string{
		"./debian-binary": "2.0\n",
		"./control.tar.gz": string(targz(map[string]string{
			"./control":  control,
			"./postinst": "#!/bin/sh\n[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n. ${IPKG_INSTROOT}/lib/functions.sh\ndefault_postinst $0 $@\n",
		})),
		"./data.tar.gz": string(targz(nil)),
	})
	if err := os.WriteFile(filepath.Join(root, "root", name+".ipk"), ipk, 0o644); err != nil {
		t.Fatal(err)
	}
}
