#!/usr/bin/env bash
# Boots the simulated Wi-Fi lab (a small VM with mac80211_hwsim radios that
# shares this machine's root read-only) and runs one scenario inside it.
#
#   scripts/lab/run.sh [--radios N] [--out DIR] [--timeout S] [--release R]
#                      [--hostapd H] SCENARIO [ARGS...]
#
# SCENARIO is a name under test/lab/scenarios/ (foundation) or a path to a
# script in the checkout, or "shell" for an interactive shell. Exit status is
# the scenario's; the runner fails loudly when the VM cannot boot, the
# scenario never reports or the time runs out. Logs land in --out (default
# .build/lab/<name>). Options beat the scenario's "# lab:" header.
#
# The router is OpenWrt's (scripts/lab/openwrt-root.sh): --release main,
# 24.10 or 23.05 (default main) picks the wifi scripts that write hostapd's
# configuration, --hostapd openwrt (default: OpenWrt's wpad, built by
# scripts/openwrt/recipes/hostapd.sh) or debian (Debian's 2.10) the hostapd.
#
# Environment: TJ_BIN (trustjoin binary to use; built when unset; "none" for
# no binary), TJ_IPK (trustjoin's x86_64 .ipk the router installs; built
# when unset), LAB_RELEASE, LAB_HOSTAPD (as the options), TRUSTJOIN_LAB_CACHE
# (kernel, initramfs and router root cache, default ~/.cache/trustjoin-lab),
# LAB_TIMEOUT (default time limit, 300 s).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${TRUSTJOIN_LAB_CACHE:-$HOME/.cache/trustjoin-lab}
radios="" timeout="" out=""
release=${LAB_RELEASE:-main} hostapd=${LAB_HOSTAPD:-openwrt}

die() { echo "lab: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case "$1" in
	--radios) radios=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--release) release=$2; shift 2 ;;
	--hostapd) hostapd=$2; shift 2 ;;
	-h|--help) sed -n '2,24p' "$0"; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || die "usage: scripts/lab/run.sh [--radios N] [--out DIR] [--timeout S] SCENARIO [ARGS...]"
scenario=$1; shift

interactive=0
if [ "$scenario" = shell ]; then
	interactive=1
	script=""
	name=shell
elif [ -f "$repo/test/lab/scenarios/$scenario.sh" ]; then
	script=test/lab/scenarios/$scenario.sh
	name=$scenario
elif [ -f "$scenario" ]; then
	abs=$(cd "$(dirname "$scenario")" && pwd)/$(basename "$scenario")
	case "$abs" in
	"$repo"/*) script=${abs#"$repo"/} ;;
	*) die "scenario $scenario is not inside the checkout $repo" ;;
	esac
	name=$(basename "$scenario" .sh)
else
	die "no scenario $scenario (looked in test/lab/scenarios/)"
fi
# A scenario may ask for its radios and time: "# lab: radios=N timeout=S";
# options given to this script win.
hradios=3 htimeout=${LAB_TIMEOUT:-300}
if [ -n "$script" ]; then
	hdr=$(grep -m1 '^# lab:' "$repo/$script" || true)
	for kv in ${hdr#\# lab:}; do
		case "$kv" in
		radios=*) hradios=${kv#radios=} ;;
		timeout=*) htimeout=${kv#timeout=} ;;
		esac
	done
fi
radios=${radios:-$hradios} timeout=${timeout:-$htimeout}
case "$radios" in '' | *[!0-9]*) die "radios must be a number, not '$radios'" ;; esac
case "$timeout" in '' | *[!0-9]*) die "timeout must be a number of seconds, not '$timeout'" ;; esac
[ "$radios" -ge 1 ] || die "at least one radio"
case "$release" in main | 24.10 | 23.05) ;; *) die "--release must be main, 24.10 or 23.05, not '$release'" ;; esac
case "$hostapd" in openwrt | debian) ;; *) die "--hostapd must be openwrt or debian, not '$hostapd'" ;; esac
out=${out:-$repo/.build/lab/$name}

# Tools. Installed only when missing; CI's install step normally has them.
need=()
for t in qemu-system-x86_64:qemu-system-x86 cpio:cpio depmod:kmod hostapd:hostapd \
	wpa_supplicant:wpasupplicant wpa_cli:wpasupplicant iw:iw ip:iproute2 apt-get:apt; do
	command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
done
# The initramfs runs busybox with no libraries: it must be the static one.
static_busybox() { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }
static_busybox || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
	echo "lab: installing ${need[*]}" >&2
	apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; } ||
		die "could not install ${need[*]} (apt-get install failed even after apt-get update)"
	static_busybox || die "/bin/busybox is not the static build (install busybox-static)"
fi

# The guest kernel: Debian's current image, resolved, never hard-coded.
# Runs started side by side share the cache, so fetching and building it
# is done under a lock.
mkdir -p "$cache" && cache=$(cd "$cache" && pwd)
exec 9>"$cache/.lock"
flock 9
kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'; }
# fetch_kernel PKG: download and unpack into the cache (the kernel, the
# regulatory database). apt's sandbox user
# cannot write to root's cache: apt warns and goes on as root; only a
# failure matters.
fetch_kernel() {
	local tmp
	tmp=$(mktemp -d "$cache/dl.XXXXXX")
	if ! (cd "$tmp" && apt-get download "$1" >"$tmp/log" 2>&1); then
		cat "$tmp/log" >&2
		rm -rf "$tmp"
		return 1
	fi
	rm -rf "$cache/$1.tmp" && mkdir -p "$cache/$1.tmp"
	dpkg -x "$tmp"/*.deb "$cache/$1.tmp" || { rm -rf "$tmp"; return 1; }
	rm -rf "$tmp" "${cache:?}/$1" && mv "$cache/$1.tmp" "$cache/$1"
}
kpkg=$(kernel_pkg)
if [ -z "$kpkg" ]; then
	apt-get update -q >/dev/null || die "apt-get update failed"
	kpkg=$(kernel_pkg)
fi
[ -n "$kpkg" ] || die "cannot resolve the kernel package behind linux-image-amd64 (apt-cache depends)"
if ! ls "$cache/$kpkg"/boot/vmlinuz-* >/dev/null 2>&1; then
	echo "lab: fetching $kpkg (about 70 MB, once)" >&2
	if ! fetch_kernel "$kpkg"; then
		# Stale package lists name a build the mirror no longer has.
		echo "lab: apt-get download $kpkg failed; updating the package lists and trying again" >&2
		apt-get update -q >/dev/null || die "apt-get update failed"
		kpkg=$(kernel_pkg)
		[ -n "$kpkg" ] || die "cannot resolve the kernel package behind linux-image-amd64 (apt-cache depends)"
		ls "$cache/$kpkg"/boot/vmlinuz-* >/dev/null 2>&1 || fetch_kernel "$kpkg" ||
			die "apt-get download $kpkg failed"
	fi
fi
kroot=$cache/$kpkg
# The regulatory database, as OpenWrt ships it (wireless-regdb): without it
# the kernel cannot apply the country the householder set (OpenWrt writes
# country_code), waits 3 s for a CRDA that is not there, and hostapd sits 5 s
# in COUNTRY_UPDATE at every start. Debian's copy, signed with the key its
# kernel trusts.
regdb=$cache/wireless-regdb/lib/firmware
if [ ! -f "$regdb/regulatory.db-debian" ]; then
	fetch_kernel wireless-regdb || { apt-get update -q >/dev/null && fetch_kernel wireless-regdb; } ||
		die "apt-get download wireless-regdb failed"
fi
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -1)
kver=${vmlinuz##*/vmlinuz-}
[ -f "$kroot/lib/modules/$kver/modules.dep" ] || depmod -b "$kroot" "$kver" || die "depmod for $kver failed"
[ -f "$kroot/lib/modules/$kver/kernel/drivers/net/wireless/mac80211_hwsim.ko" ] ||
	die "kernel $kver has no mac80211_hwsim module ($kroot)"

# The tiny initramfs: busybox plus what mounting the 9p shares needs.
inithash=$(cat "$repo/scripts/lab/init" "$0" "$regdb/regulatory.db-debian" | sha256sum | cut -c1-12)
initrd=$cache/initrd-$kver-$inithash.gz
if [ ! -f "$initrd" ]; then
	w=$(mktemp -d)
	mkdir -p "$w"/{bin,dev,proc,sys,host,lib/modules/$kver/kernel}
	cp /bin/busybox "$w/bin/busybox"
	# The kernel loads firmware from its own root, the initramfs.
	install -D -m 0644 "$regdb/regulatory.db-debian" "$w/lib/firmware/regulatory.db"
	install -D -m 0644 "$regdb/regulatory.db.p7s-debian" "$w/lib/firmware/regulatory.db.p7s"
	for d in drivers/virtio drivers/char/hw_random net/9p fs/9p fs/netfs fs/fscache; do
		[ -d "$kroot/lib/modules/$kver/kernel/$d" ] || continue
		mkdir -p "$w/lib/modules/$kver/kernel/$d"
		cp -r "$kroot/lib/modules/$kver/kernel/$d/." "$w/lib/modules/$kver/kernel/$d/"
	done
	cp "$kroot/lib/modules/$kver/modules.order" "$kroot/lib/modules/$kver/modules.builtin"* "$w/lib/modules/$kver/" 2>/dev/null || true
	depmod -b "$w" "$kver"
	cp "$repo/scripts/lab/init" "$w/init"
	chmod 755 "$w/init"
	(cd "$w" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp" || die "building the initramfs failed"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$w"
	# Initramfs images of older versions of the init script, unused for a day.
	find "$cache" -maxdepth 1 -name 'initrd-*.gz' ! -name "${initrd##*/}" -mtime +1 -delete
fi
flock -u 9
exec 9>&-

# The trustjoin binary the scenario runs, copied into the results share so
# the guest finds it wherever the checkout is.
# The results folder is emptied first, but only when it is one of ours: a
# mistyped --out must not wipe someone's folder.
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -f "$out/.lab-env" ]; then
	die "refusing to empty $out: not a lab results folder (no .lab-env); choose another --out"
fi
mkdir -p "$out" && out=$(cd "$out" && pwd)
[ "$out" != / ] && [ "$out" != "$repo" ] || die "--out $out would empty the checkout or /"
find "$out" -mindepth 1 -delete
mkdir -p "$out/bin"
if [ -z "${TJ_BIN:-}" ]; then
	(cd "$repo" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -o "$out/bin/trustjoin" ./src/cmd/trustjoin) ||
		die "failed to build trustjoin"
elif [ "$TJ_BIN" != none ]; then
	cp "$TJ_BIN" "$out/bin/trustjoin"
fi
# The router: its root (cached) and the package it installs.
owrt_root=""
if [ "${TJ_BIN:-}" != none ]; then
	owrt_root=$("$repo/scripts/lab/openwrt-root.sh" "$release") || die "could not assemble the OpenWrt root"
	mkdir -p "$out/ipk"
	if [ -z "${TJ_IPK:-}" ]; then
		(cd "$repo" && IPK_ARCHS=x86_64 IPK_OUT="$out/ipk" IPK_BIN="$out/ipk/bin" scripts/build/ipk.sh >/dev/null) ||
			die "failed to build trustjoin's .ipk (scripts/build/ipk.sh)"
		rm -rf "$out/ipk/bin"
	else
		cp "$TJ_IPK" "$out/ipk/"
	fi
fi
{
	printf 'LAB_SCENARIO=%q\n' "$script"
	printf 'LAB_RADIOS=%q\n' "$radios"
	printf 'LAB_KVER=%q\n' "$kver"
	printf 'LAB_TJ_BIN=%q\n' "${TJ_BIN:-built}"
	printf 'LAB_OWRT_ROOT=%q\n' "$owrt_root"
	printf 'LAB_RELEASE=%q\n' "$release"
	printf 'LAB_HOSTAPD=%q\n' "$hostapd"
	printf 'LAB_ARGS=(%s)\n' "$(printf '%q ' "$@")"
} > "$out/.lab-env"

# virtio-rng: the host's randomness for the guest kernel, whose own pool
# takes a minute or more to fill under emulation; until it has, getrandom()
# blocks, and with it every program that makes a key (trustjoin's first
# start, OpenSSL in hostapd).
qemu=(qemu-system-x86_64 -m 1024 -smp 2 -nographic -no-reboot -nic none
	-device virtio-rng-pci
	-kernel "$vmlinuz" -initrd "$initrd"
	-append "console=ttyS0 quiet loglevel=3 panic=-1 tj.interactive=$interactive"
	-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap
	-virtfs "local,path=$repo,mount_tag=src,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap"
	-virtfs "local,path=$kroot,mount_tag=kernel,security_model=none,readonly=on,multidevs=remap")

if [ $interactive = 1 ]; then
	exec "${qemu[@]}"
fi

echo "lab: $name: booting ($radios radios, kernel $kver, OpenWrt $release, $hostapd hostapd)" >&2
start=$(date +%s)
set +e
timeout --foreground -k 5 "$timeout" "${qemu[@]}" < /dev/null > "$out/console.log" 2>&1
qrc=$?
set -e
took=$(( $(date +%s) - start ))
console_tail() {
	echo "---- last lines of the guest console ($out/console.log) ----" >&2
	tail -n "$1" "$out/console.log" | tr -d '\r' >&2
}
if [ ! -f "$out/exit-code" ]; then
	if [ $qrc = 124 ] || [ $qrc = 137 ]; then
		why="timed out after ${timeout}s (--timeout or '# lab: timeout=S' to change)"
	elif grep -q 'LAB-INIT-FAILED' "$out/console.log"; then
		why="the VM did not boot: $(grep -m1 -o 'LAB-INIT-FAILED.*' "$out/console.log" | tr -d '\r')"
	elif [ $qrc != 0 ] && ! grep -q 'SeaBIOS\|LAB-' "$out/console.log"; then
		why="qemu failed to start the VM (qemu exit $qrc)"
	elif grep -q 'Kernel panic' "$out/console.log"; then
		why="the guest kernel panicked after ${took}s; the scenario never reported an exit code"
	else
		why="the scenario never reported an exit code (guest crash? qemu exit $qrc after ${took}s)"
	fi
	echo "lab: $name: FAILED: $why" >&2
	if grep -qE 'Kernel panic|BUG:|Oops|WARNING:' "$out/console.log"; then
		echo "---- what the guest kernel said ----" >&2
		grep -m6 -E 'Kernel panic|BUG:|Oops|WARNING:|RIP:' "$out/console.log" | tr -d '\r' >&2
	fi
	[ -f "$out/scenario.log" ] && { echo "---- last lines of $out/scenario.log ----" >&2; tail -n 20 "$out/scenario.log" >&2; }
	console_tail 40
	exit 1
fi
rc=$(cat "$out/exit-code")
case "$rc" in '' | *[!0-9]*) echo "lab: $name: FAILED: unreadable exit code '$rc'" >&2; console_tail 40; exit 1 ;; esac
if [ "$rc" != 0 ]; then
	echo "lab: $name: FAILED with exit code $rc after ${took}s; logs in $out" >&2
	echo "---- last lines of $out/scenario.log ----" >&2
	tail -n 40 "$out/scenario.log" >&2 || cat "$out/setup.log" >&2 || true
	console_tail 10
	exit "$rc"
fi
echo "lab: $name: passed in ${took}s; logs in $out" >&2
