#!/usr/bin/env bash
# Runs CMD in a root made by root.sh as on a booted OpenWrt: in mount, PID
# and network namespaces of its own (nothing it starts outlives it, nothing
# is mounted on the host, nothing it sets up touches the host's interfaces
# or nftables), with /proc, /sys, /dev, loopback up and a fresh tmpfs on
# /tmp (OpenWrt's /var is /tmp; /var/run and /var/lock exist). As root.
#
#   scripts/openwrt/chroot.sh DIR CMD [ARG...]
#
# Every call is a fresh boot as far as /tmp goes: run the daemons and what
# talks to them (ubusd, procd, rpcd, a test) in one call.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: chroot.sh DIR CMD [ARG...]" >&2; exit 2; }
dir=$(cd "$1" && pwd)
shift
[ -f "$dir/etc/trustjoin-test-root" ] || { echo "chroot.sh: $dir is not a root made by root.sh" >&2; exit 2; }
exec unshare --mount --pid --net --fork --propagation private /bin/sh -c '
	set -e
	d=$1; shift
	mount -t proc proc "$d/proc"
	mount -t sysfs -o ro sysfs "$d/sys" 2>/dev/null || true
	mount --rbind /dev "$d/dev"
	mount -t tmpfs -o mode=1777 tmpfs "$d/tmp"
	mkdir -p "$d/tmp/run" "$d/tmp/lock" "$d/tmp/state" "$d/tmp/log"
	ip link set lo up 2>/dev/null || true
	exec chroot "$d" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb "$@"
' chroot.sh "$dir" "$@"
