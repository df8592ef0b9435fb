//go:build !linux

package hostapd

// shareWithHostapd: only OpenWrt (Linux) runs hostapd as a user of its own.
func shareWithHostapd(local, ctrlDir string) error { return nil }
