// Package credential gives each device its own Wi-Fi credential: a fresh
// random passphrase in its own line of a wpa_psk_file that trustjoin owns,
// with the device's key id and VLAN. Sync brings the lines to what the
// device owner wants (their VLANs, which go) and has hostapd act on it at
// once: reload, and disconnect a device whose credential went or moved.
// A device's key ids are its id, or while a second credential is on its
// way to it, its id and a suffix, so the old one keeps working until the
// device connects with the new one.
//
// Why a file trustjoin owns: on OpenWrt, netifd rewrites
// /var/run/hostapd-<ifname>.psk from wifi-station sections at every wifi
// reload, which would wipe lines written there. trustjoin instead keeps
// /etc/trustjoin/psk/<ifname>.psk and, at install, points the wifi-iface's
// wpa_psk_file option at it (files/etc/uci-defaults/90-trustjoin). netifd
// then passes that path to hostapd and leaves the file alone; OpenWrt's
// hostapd wrapper re-reads it (RELOAD_WPA_PSK) when its contents change, and
// it survives reboots because it lives on flash. The 24.10+ hostapd-auth
// ubus hook would avoid the file, but exists only on newer releases and
// needs ubus from Go; the file works on every release and in the lab.
//
// Where devices are configured for WPA2-PSK only, the line holds the PSK
// derived from the passphrase for the access point's SSID (64 hex digits)
// rather than the passphrase: hostapd takes a PSK line as it is, while it
// runs PBKDF2 (4096 rounds) for every passphrase line on every reload of
// the file, seconds to minutes with hundreds of devices on a router CPU.
// DPP then hands the device the same PSK (psk=, DPP's psk_hex). SAE needs
// the passphrase itself, so with SAE offered lines keep passphrases.
//
// Each line is a wildcard-MAC entry (00:00:00:00:00:00), so devices that
// randomise their MAC still match: hostapd tries every wildcard passphrase
// in the 4-way handshake and applies the matching line's vlanid. The shared
// household passphrase stays in hostapd's own configuration
// (wpa_passphrase) and keeps working for older devices.
//
// What is not possible: WPA3-SAE passwords cannot be matched this way. SAE
// uses the last matching sae_password entry by MAC and password identifier
// rather than trying each, hostapd 2.10 has no file for them and 2.11's
// sae_password_file is read only at start, and entries added at runtime
// with SET sae_password cannot be removed one by one. So per-device SAE
// needs the device to present its identifier, and removing one device's SAE
// password means reloading hostapd's configuration. trustjoin therefore
// hands devices WPA2-PSK (or PSK+SAE with the PSK line doing the per-device
// work) unless configured otherwise.
package credential
