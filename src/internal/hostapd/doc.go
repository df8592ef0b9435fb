// Package hostapd is a client for hostapd's control interface: commands,
// replies, attached event streams and recovery when hostapd restarts. It
// knows nothing of onboarding; the layers above drive it. Values from
// outside (PKEX codes and identifiers, DPP URIs) go into commands only
// through its builders, which check that hostapd will read each as
// itself, and no command with anything but printable ASCII is sent.
package hostapd
