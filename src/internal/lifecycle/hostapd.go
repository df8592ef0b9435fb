package lifecycle

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/api"
)

// Package databases of OpenWrt's two package managers: opkg (up to 24.10)
// and apk (25.12 and later).
var (
	opkgStatus   = "/usr/lib/opkg/status"
	apkInstalled = "/lib/apk/db/installed"
)

// hostapdPackages tells, from the package database, whether the installed
// hostapd is a basic or mini variant. Those are built without
// CONFIG_FULL_DYNAMIC_VLAN (OpenWrt's hostapd-basic.config,
// hostapd-mini.config): hostapd accepts vlan_bridge and dynamic_vlan but
// never makes or bridges the VLAN interfaces, so onboarded devices would not
// reach their segments. hostapd cannot be asked; its package name tells.
// The answer is kept until a database file changes (the Status page asks
// every few seconds; a router's opkg status file is tens of kilobytes).
type hostapdPackages struct {
	mu   sync.Mutex
	seen [2]fileStamp
	last api.HostapdStatus
}

type fileStamp struct {
	size int64
	mod  time.Time
}

func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{size: -1}
	}
	return fileStamp{size: fi.Size(), mod: fi.ModTime()}
}

// status says what is wrong with the installed hostapd, with the fix; the
// zero value when nothing is (or no database lists a hostapd).
func (h *hostapdPackages) status() api.HostapdStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := [2]fileStamp{stamp(opkgStatus), stamp(apkInstalled)}
	if now == h.seen {
		return h.last
	}
	h.seen, h.last = now, api.HostapdStatus{}
	pkg, apk := basicHostapd()
	if pkg == "" {
		return h.last
	}
	// The install left per_sta_vif out on the basic hostapd (it would
	// have left every station unbridged); HostapdVLANs sets it once the
	// full variant is in.
	const then = "; trustjoin then sets per_sta_vif on its access points and reloads Wi-Fi"
	fix := fmt.Sprintf("install a full hostapd variant: opkg remove %s && opkg install %s", pkg, fullVariant(pkg)) + then
	if apk {
		fix = fmt.Sprintf("install a full hostapd variant: apk del %s && apk add %s", pkg, fullVariant(pkg)) + then
	}
	h.last = api.HostapdStatus{
		Package: pkg,
		Problem: pkg + " has no dynamic VLANs (built without CONFIG_FULL_DYNAMIC_VLAN): devices are not put in their segments",
		Fix:     fix,
	}
	return h.last
}

// basicHostapd names the installed hostapd/wpad package if it is a basic
// or mini variant, and whether apk's database (not opkg's) lists it.
func basicHostapd() (pkg string, apk bool) {
	for _, p := range installedPackages() {
		name := p.name
		if !strings.HasPrefix(name, "wpad") && !strings.HasPrefix(name, "hostapd") {
			continue
		}
		if strings.Contains(name, "-basic") || strings.HasSuffix(name, "-mini") {
			return name, p.apk
		}
	}
	return "", false
}

type installed struct {
	name string
	apk  bool
}

// installedPackages lists what opkg's or apk's database says is installed.
func installedPackages() []installed {
	var out []installed
	if f, err := os.Open(opkgStatus); err == nil {
		defer f.Close()
		var pkg string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "Package: "); ok {
				pkg = v
			} else if v, ok := strings.CutPrefix(line, "Status: "); ok && pkg != "" && strings.HasSuffix(v, " installed") && !strings.Contains(v, "not-installed") {
				out = append(out, installed{name: pkg})
			}
		}
	}
	if f, err := os.Open(apkInstalled); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "P:"); ok {
				out = append(out, installed{name: v, apk: true})
			}
		}
	}
	return out
}

// fullVariant is the full package with the same TLS library: wpad-basic-
// mbedtls -> wpad-mbedtls, hostapd-mini -> hostapd.
func fullVariant(pkg string) string {
	full := strings.Replace(pkg, "-basic", "", 1)
	return strings.TrimSuffix(full, "-mini")
}
