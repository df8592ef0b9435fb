//go:build !linux

package hostapd

func apInterfaces() []string { return nil }
