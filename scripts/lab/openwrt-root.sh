#!/usr/bin/env bash
# The lab's router: an OpenWrt root (scripts/openwrt/root.sh) of one
# release with OpenWrt's hostapd (recipes/hostapd.sh) and what the lab VM
# needs to bring its Wi-Fi up with OpenWrt's own scripts. Prints the root's
# path; cached under $TRUSTJOIN_LAB_CACHE (default ~/.cache/trustjoin-lab),
# keyed by what goes into it. The lab VM sees it read-only (the host's root
# is its root) and mounts a writable overlay on it for each run: a freshly
# flashed router every time.
#
#   scripts/lab/openwrt-root.sh main|24.10|23.05
#
# What is whose, per release (README, "Which parts of the lab are OpenWrt's"):
#   main   netifd's ucode wireless glue, the ucode mac80211 handler and its
#          hostapd config generator (wifi-scripts files-ucode, the default:
#          CONFIG_WIFI_SCRIPTS_UCODE=y), all main's.
#   24.10  the release's shell handler (mac80211.sh) and generator
#          (hostapd.sh, netifd-wireless.sh), wdev.uc, common.uc,
#          wifi-detect.uc; run by main's netifd with main's ucode wireless
#          glue (24.10's netifd did the same in C, not in the archives).
#   23.05  the release's generator (hostapd.sh); the rest as for 24.10 with
#          24.10's files (23.05's mac80211.sh lived in package/kernel/
#          mac80211, not in its subset).
# hostapd, its hostapd.uc and wpad.init are main's in all three (hostapd.tar.gz
# is main's commit; 24.10's and 23.05's are not in the archives).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
release=${1:-}
case "$release" in main | 24.10 | 23.05) ;; *) echo "usage: openwrt-root.sh main|24.10|23.05" >&2; exit 2 ;; esac
cache=${TRUSTJOIN_LAB_CACHE:-$HOME/.cache/trustjoin-lab}
owrt=$repo/scripts/openwrt
mkdir -p "$cache"

core=$("$owrt/build.sh")
hostapd=$("$owrt/build.sh" hostapd)
src=$("$owrt/build.sh" --src)
key=$({
	echo "$release $core $hostapd"
	cat "$0" "$owrt/root.sh"
	sha256sum < "$src/openwrt.tar.gz"
	[ "$release" = main ] || sha256sum < "$src/openwrt-$release-scripts.tar.gz"
	[ "$release" != 23.05 ] || sha256sum < "$src/openwrt-24.10-scripts.tar.gz"
} | sha256sum | cut -c1-16)
dir=$cache/openwrt-root-$release-$key
if [ -f "$dir/etc/trustjoin-test-root" ]; then
	echo "$dir"
	exit 0
fi

exec 9>"$cache/.openwrt-root.lock"
flock 9
if [ -f "$dir/etc/trustjoin-test-root" ]; then
	echo "$dir"
	exit 0
fi
tmp=$(mktemp -d "$cache/tmp.openwrt-root.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "lab: assembling an OpenWrt $release root for the lab (once)" >&2
"$owrt/root.sh" "$tmp/root" --release "$release" --bands 2g --with hostapd > /dev/null
r=$tmp/root
mkdir -p "$tmp/src"
tar -xzf "$src/openwrt.tar.gz" -C "$tmp/src"
main=$tmp/src/openwrt
ws=$main/package/network/config/wifi-scripts
if [ "$release" != main ]; then
	tar -xzf "$src/openwrt-24.10-scripts.tar.gz" -C "$tmp/src"
	ws24=$tmp/src/openwrt-24.10/package/network/config/wifi-scripts
fi

case "$release" in
main)
	# The ucode scripts main installs by default over the shell ones.
	cp -a "$ws/files-ucode/." "$r/"
	;;
24.10 | 23.05)
	# main's netifd runs the release's shell handler through its ucode
	# wireless glue (the handler protocol is the one 24.10's netifd spoke).
	for f in main.uc utils.uc proto.uc proto-ucode.uc; do
		install -D -m 0644 "$main/package/network/config/netifd/files/lib/netifd/$f" "$r/lib/netifd/$f"
	done
	for f in wireless.uc wireless-device.uc; do
		install -D -m 0644 "$ws/files/lib/netifd/$f" "$r/lib/netifd/$f"
	done
	install -D -m 0644 "$ws/files/usr/share/ucode/wifi/utils.uc" "$r/usr/share/ucode/wifi/utils.uc"
	;;
esac
# netifd's shell helpers, which its package installs beside the binary
# (package/network/config/netifd/Makefile) and the shell handlers of 24.10
# and 23.05 source (mac80211.sh: . /lib/netifd/netifd-wireless.sh, which
# sources utils.sh); scripts/openwrt/root.sh has only the package's files/.
tar -xzf "$src/netifd.tar.gz" -C "$tmp/src" netifd/scripts/utils.sh netifd/scripts/netifd-proto.sh
install -m 0644 "$tmp/src/netifd/scripts/utils.sh" "$tmp/src/netifd/scripts/netifd-proto.sh" "$r/lib/netifd/"
if [ "$release" = 23.05 ]; then
	# 24.10's handler and its helpers; 23.05's hostapd.sh (root.sh put it in
	# /lib/netifd) writes the configuration.
	install -D -m 0755 "$ws24/files/lib/netifd/wireless/mac80211.sh" "$r/lib/netifd/wireless/mac80211.sh"
	install -D -m 0644 "$ws24/files/lib/netifd/netifd-wireless.sh" "$r/lib/netifd/netifd-wireless.sh"
	for f in common.uc wdev.uc wifi-detect.uc; do
		install -D -m 0644 "$ws24/files/usr/share/hostap/$f" "$r/usr/share/hostap/$f"
	done
	install -D -m 0755 "$ws24/files/sbin/wifi" "$r/sbin/wifi"
	install -D -m 0644 "$ws24/files/lib/wifi/mac80211.uc" "$r/lib/wifi/mac80211.uc"
fi
# hostapd's own ucode, the one its binary drives (root.sh put the release's
# copy over it), and main's wpad.init.
cp -a "$hostapd/usr/share/hostap/." "$r/usr/share/hostap/"
install -m 0755 "$main/package/network/services/hostapd/files/wpad.init" "$r/etc/init.d/wpad"
install -m 0644 "$main/package/network/services/hostapd/files/wpad.json" "$r/etc/capabilities/wpad.json"

# iw, which OpenWrt's wifi scripts run (OpenWrt's iw package is not in
# the archives): Debian's, with the libraries it needs.
iw=$(command -v iw) || { echo "openwrt-root.sh: no iw (apt-get install iw)" >&2; exit 1; }
install -D -m 0755 "$iw" "$r/usr/sbin/iw"
for lib in $(ldd "$iw" | awk '/=> \//{print $3}'); do
	[ -e "$r$lib" ] || install -D -m 0644 "$lib" "$r$lib"
done

# The router's Wi-Fi is configured in the VM, from its radios.
rm -f "$r/etc/config/wireless"
printf 'lab %s\nhostapd %s\n' "$release" "$hostapd" >> "$r/etc/trustjoin-test-root"
rm -rf "$dir"
mv "$r" "$dir"
# Roots of older keys, unused for a day.
find "$cache" -maxdepth 1 -name "openwrt-root-$release-*" ! -name "${dir##*/}" -mtime +1 -exec rm -rf {} +
echo "$dir"
