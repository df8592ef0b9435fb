// Package hostapd is a client for hostapd's control interface: commands,
// replies, attached event streams and recovery when hostapd restarts. It
// knows nothing of onboarding; the layers above drive it.
package hostapd
