package cli

import (
	"bufio"
	"os"
	"strings"
)

// Package databases of OpenWrt's two package managers: opkg (up to 24.10)
// and apk (25.12 and later).
var (
	opkgStatus   = "/usr/lib/opkg/status"
	apkInstalled = "/lib/apk/db/installed"
)

// basicHostapd names the installed hostapd/wpad package if it is a basic
// or mini variant. Those are built without CONFIG_FULL_DYNAMIC_VLAN
// (OpenWrt's hostapd-basic.config, hostapd-mini.config): hostapd accepts
// vlan_bridge and dynamic_vlan but never makes or bridges the VLAN
// interfaces, so onboarded devices would not reach their segments. hostapd
// cannot be asked; its package name tells.
func basicHostapd() string {
	for _, name := range installedPackages() {
		if !strings.HasPrefix(name, "wpad") && !strings.HasPrefix(name, "hostapd") {
			continue
		}
		if strings.Contains(name, "-basic") || strings.HasSuffix(name, "-mini") {
			return name
		}
	}
	return ""
}

// installedPackages lists what opkg's or apk's database says is installed.
func installedPackages() []string {
	var names []string
	if f, err := os.Open(opkgStatus); err == nil {
		defer f.Close()
		var pkg string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "Package: "); ok {
				pkg = v
			} else if v, ok := strings.CutPrefix(line, "Status: "); ok && pkg != "" && strings.HasSuffix(v, " installed") && !strings.Contains(v, "not-installed") {
				names = append(names, pkg)
			}
		}
	}
	if f, err := os.Open(apkInstalled); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "P:"); ok {
				names = append(names, v)
			}
		}
	}
	return names
}

// fullVariant is the full package with the same TLS library: wpad-basic-
// mbedtls -> wpad-mbedtls, hostapd-mini -> hostapd.
func fullVariant(pkg string) string {
	full := strings.Replace(pkg, "-basic", "", 1)
	return strings.TrimSuffix(full, "-mini")
}
