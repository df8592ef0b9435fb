package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/api"
)

func TestBasicHostapd(t *testing.T) {
	const full = "Package: wpad-mbedtls\nStatus: install user installed\n\nPackage: hostapd-common\nStatus: install user installed\n"
	for _, tt := range []struct {
		name, opkg, apk string
		want            api.HostapdStatus
	}{
		{name: "OpenWrt's default", opkg: "Package: wpad-basic-mbedtls\nVersion: 1\nStatus: install user installed\n\nPackage: hostapd-common\nStatus: install user installed\n", want: api.HostapdStatus{
			Package: "wpad-basic-mbedtls",
			Problem: "wpad-basic-mbedtls has no dynamic VLANs (built without CONFIG_FULL_DYNAMIC_VLAN): devices are not put in their segments",
			Fix:     "install a full hostapd variant: opkg remove wpad-basic-mbedtls && opkg install wpad-mbedtls; trustjoin then sets per_sta_vif on its access points and reloads Wi-Fi",
		}},
		{name: "full wpad", opkg: full},
		{name: "basic removed", opkg: "Package: wpad-basic-mbedtls\nStatus: deinstall user not-installed\n"},
		{name: "apk, mini", apk: "C:Q1abc\nP:hostapd-mini\nV:1\n\nP:ucode\n", want: api.HostapdStatus{
			Package: "hostapd-mini",
			Problem: "hostapd-mini has no dynamic VLANs (built without CONFIG_FULL_DYNAMIC_VLAN): devices are not put in their segments",
			Fix:     "install a full hostapd variant: apk del hostapd-mini && apk add hostapd; trustjoin then sets per_sta_vif on its access points and reloads Wi-Fi",
		}},
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
			var h hostapdPackages
			if diff := cmp.Diff(tt.want, h.status()); diff != "" {
				t.Fatalf("status (-want +got):\n%s", diff)
			}
		})
	}
}

// The daemon's status says it, and stops saying it once the full variant
// replaces the basic one (the database file changes).
func TestStatusHostapdPackage(t *testing.T) {
	dir := t.TempDir()
	opkgStatus, apkInstalled = filepath.Join(dir, "status"), filepath.Join(dir, "installed")
	if err := os.WriteFile(opkgStatus, []byte("Package: wpad-basic-mbedtls\nStatus: install user installed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := newService(t, defaults(t))
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Hostapd.Package != "wpad-basic-mbedtls" || st.Hostapd.Fix == "" {
		t.Fatalf("status does not say the basic hostapd lacks dynamic VLANs: %+v", st.Hostapd)
	}
	if err := os.WriteFile(opkgStatus, []byte("Package: wpad-mbedtls\nStatus: install user installed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	os.Chtimes(opkgStatus, later, later)
	if st, _ = s.Status(context.Background()); st.Hostapd != (api.HostapdStatus{}) {
		t.Fatalf("still warned about after the full variant was installed: %+v", st.Hostapd)
	}
}
