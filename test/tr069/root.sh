#!/usr/bin/env bash
# root.sh PREFIX DIR: an OpenWrt-like root in DIR, for chroot: OpenWrt's
# userland as scripts/openwrt/build.sh installed it in PREFIX, the host
# libraries its programs load (glibc, json-c, libcurl, OpenSSL: Debian's,
# where OpenWrt has musl and its own builds), busybox as /bin/sh and the
# tools OpenWrt's scripts use, base-files' shell functions and rc.common
# (OpenWrt 24.10's), and the device nodes daemons open.
set -euo pipefail
prefix=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
src=${TRUSTJOIN_OPENWRT_SRC:-}
if [ -z "$src" ]; then
	d=$here
	while [ "$d" != / ]; do
		d=$(dirname "$d")
		[ -f "$d/shared/openwrt-src/SOURCES.txt" ] && { src=$d/shared/openwrt-src; break; }
	done
fi
[ -n "$src" ] || { echo "root.sh: no openwrt-src (set TRUSTJOIN_OPENWRT_SRC)" >&2; exit 1; }

mkdir -p "$dir"
cp -a "$prefix/." "$dir/"
rm -f "$dir/.trustjoin-openwrt"
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,lib,etc/config,etc/init.d,tmp,var/run,var/log,var/lock,var/state,dev,proc}
chmod 1777 "$dir/tmp"
ln -sfn ../tmp "$dir/var/tmp" 2>/dev/null || true

# busybox: the shell and the tools (ash, awk, sed, grep, od, ...), where
# the prefix has no program of that name.
install -m 0755 "$(command -v busybox)" "$dir/bin/busybox"
busybox --list-full | while read -r applet; do
	[ -e "$dir/$applet" ] || [ -L "$dir/$applet" ] || ln -s /bin/busybox "$dir/$applet"
done

# flock, which OpenWrt's busybox has and Debian's lacks (procd.sh takes a
# lock per service with it).
install -m 0755 "$(command -v flock)" "$dir/usr/bin/flock"

# base-files: functions.sh and its helpers, and rc.common for init
# scripts; procd's package adds procd.sh, what procd init scripts use.
tar -xzf "$src/openwrt-24.10-scripts.tar.gz" -C "$dir/tmp" --wildcards '*/package/base-files/files/lib/functions*' \
	'*/package/base-files/files/etc/rc.common' '*/package/system/procd/files/procd.sh'
top=$(echo "$dir"/tmp/openwrt-*)
cp -a "$top/package/base-files/files/lib/." "$dir/lib/"
cp -a "$top/package/base-files/files/etc/rc.common" "$dir/etc/rc.common"
cp -a "$top/package/system/procd/files/procd.sh" "$dir/lib/functions/procd.sh"
rm -rf "$top"

# The host libraries every program and library of the root needs.
find "$dir" -type f \( -perm -u+x -o -name '*.so*' \) -print0 |
while IFS= read -r -d '' f; do
	[ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || continue
	{ LD_LIBRARY_PATH=$dir/usr/lib:$dir/lib ldd "$f" 2>/dev/null || true; } | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'
done | sort -u | while read -r lib; do
	case "$lib" in "$dir"/*) continue ;; esac
	[ -e "$dir$lib" ] && continue
	mkdir -p "$dir$(dirname "$lib")"
	cp -L "$lib" "$dir$lib"
done

# Accounts, as OpenWrt's base-files has them (ubusd looks its clients up).
printf 'root:x:0:0:root:/root:/bin/ash\nnobody:*:65534:65534:nobody:/var:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
mkdir -p "$dir/root"

for node in "null c 1 3" "zero c 1 5" "random c 1 8" "urandom c 1 9" "tty c 5 0"; do
	set -- $node
	[ -e "$dir/dev/$1" ] || mknod -m 0666 "$dir/dev/$1" "$2" "$3" "$4"
done
