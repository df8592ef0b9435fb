// Package openwrttest installs trustjoin's packages into roots of OpenWrt's
// real userland (scripts/openwrt: opkg, uci, base-files' functions.sh and
// default_postinst, procd, rpcd, ujail, built from ../shared/openwrt-src)
// and runs them there, for OpenWrt main, 24.10 and 23.05: install on stock
// and real-world wireless configurations, upgrade, remove, procd's
// respawn and reload, rpcd's plugin, and what hostapd's jail may read.
// Needs root (chroot, namespaces); skipped otherwise.
package openwrttest
