package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBasicHostapd(t *testing.T) {
	for _, tt := range []struct {
		name, opkg, apk, want, fix string
	}{
		{name: "OpenWrt's default", opkg: "Package: wpad-basic-mbedtls\nVersion: 1\nStatus: install user installed\n\nPackage: hostapd-common\nStatus: install user installed\n", want: "wpad-basic-mbedtls", fix: "wpad-mbedtls"},
		{name: "full wpad", opkg: "Package: wpad-mbedtls\nStatus: install user installed\n\nPackage: hostapd-common\nStatus: install user installed\n"},
		{name: "basic removed", opkg: "Package: wpad-basic-mbedtls\nStatus: deinstall user not-installed\n"},
		{name: "apk, mini", apk: "C:Q1abc\nP:hostapd-mini\nV:1\n\nP:ucode\n", want: "hostapd-mini", fix: "hostapd"},
		{name: "no package database"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opkgStatus, apkInstalled = filepath.Join(dir, "status"), filepath.Join(dir, "installed")
			if tt.opkg != "" {
				os.WriteFile(opkgStatus, []byte(tt.opkg), 0o644)
			}
			if tt.apk != "" {
				os.WriteFile(apkInstalled, []byte(tt.apk), 0o644)
			}
			got := basicHostapd()
			if got != tt.want {
				t.Fatalf("basicHostapd() = %q, want %q", got, tt.want)
			}
			if got != "" && fullVariant(got) != tt.fix {
				t.Fatalf("fullVariant(%q) = %q, want %q", got, fullVariant(got), tt.fix)
			}
		})
	}
}
