#!/usr/bin/env bash
# Boots the simulated Wi-Fi lab (a small VM with mac80211_hwsim radios that
# shares this machine's root read-only) and runs one scenario inside it.
#
#   scripts/lab/run.sh [--radios N] [--out DIR] [--timeout S] SCENARIO [ARGS...]
#
# SCENARIO is a name under test/lab/scenarios/ (foundation) or a path to a
# script in the checkout, or "shell" for an interactive shell. Exit status is
# the scenario's; the runner fails loudly when the VM cannot boot or the
# scenario never reports. Logs land in --out (default .build/lab/<name>).
#
# Environment: TJ_BIN (trustjoin binary to use; built when unset),
# TRUSTJOIN_LAB_CACHE (kernel and initramfs cache, default ~/.cache/trustjoin-lab).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${TRUSTJOIN_LAB_CACHE:-$HOME/.cache/trustjoin-lab}
radios=3
timeout=300
out=""

die() { echo "lab: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case "$1" in
	--radios) radios=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
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
# A scenario may ask for its radios and time: "# lab: radios=N timeout=S".
if [ -n "$script" ]; then
	hdr=$(grep -m1 '^# lab:' "$repo/$script" || true)
	for kv in ${hdr#\# lab:}; do
		case "$kv" in
		radios=*) radios=${kv#radios=} ;;
		timeout=*) timeout=${kv#timeout=} ;;
		esac
	done
fi
out=${out:-$repo/.build/lab/$name}

# Tools. Installed only when missing; CI's install step normally has them.
need=()
for t in qemu-system-x86_64:qemu-system-x86 busybox:busybox-static cpio:cpio depmod:kmod \
	hostapd:hostapd wpa_supplicant:wpasupplicant iw:iw ip:iproute2; do
	command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "lab: installing ${need[*]}" >&2
	apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; } ||
		die "could not install ${need[*]}"
fi

# The guest kernel: Debian's current image, resolved, never hard-coded.
mkdir -p "$cache"
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
if [ -z "$kpkg" ]; then
	apt-get update -q >/dev/null
	kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
fi
[ -n "$kpkg" ] || die "cannot resolve the kernel package behind linux-image-amd64"
kroot=$cache/$kpkg
if ! ls "$kroot"/boot/vmlinuz-* >/dev/null 2>&1; then
	echo "lab: fetching $kpkg (about 70 MB, once)" >&2
	tmp=$(mktemp -d "$cache/dl.XXXXXX")
	(cd "$tmp" && apt-get download "$kpkg" >/dev/null) || die "apt-get download $kpkg failed"
	rm -rf "$kroot.tmp" && mkdir -p "$kroot.tmp"
	dpkg -x "$tmp"/*.deb "$kroot.tmp"
	rm -rf "$tmp" "$kroot" && mv "$kroot.tmp" "$kroot"
fi
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -1)
kver=${vmlinuz##*/vmlinuz-}
[ -f "$kroot/lib/modules/$kver/modules.dep" ] || depmod -b "$kroot" "$kver"

# The tiny initramfs: busybox plus what mounting the 9p shares needs.
inithash=$(cat "$repo/scripts/lab/init" "$0" | sha256sum | cut -c1-12)
initrd=$cache/initrd-$kver-$inithash.gz
if [ ! -f "$initrd" ]; then
	w=$(mktemp -d)
	mkdir -p "$w"/{bin,dev,proc,sys,host,lib/modules/$kver/kernel}
	cp /bin/busybox "$w/bin/busybox"
	for d in drivers/virtio net/9p fs/9p fs/netfs fs/fscache; do
		[ -d "$kroot/lib/modules/$kver/kernel/$d" ] || continue
		mkdir -p "$w/lib/modules/$kver/kernel/$d"
		cp -r "$kroot/lib/modules/$kver/kernel/$d/." "$w/lib/modules/$kver/kernel/$d/"
	done
	cp "$kroot/lib/modules/$kver/modules.order" "$kroot/lib/modules/$kver/modules.builtin"* "$w/lib/modules/$kver/" 2>/dev/null || true
	depmod -b "$w" "$kver"
	cp "$repo/scripts/lab/init" "$w/init"
	chmod 755 "$w/init"
	(cd "$w" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$w"
fi

# The trustjoin binary the scenario runs, copied into the results share so
# the guest finds it wherever the checkout is.
rm -rf "$out"
mkdir -p "$out/bin"
if [ -z "${TJ_BIN:-}" ]; then
	(cd "$repo" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -o "$out/bin/trustjoin" ./src/cmd/trustjoin) ||
		die "failed to build trustjoin"
elif [ "$TJ_BIN" != none ]; then
	cp "$TJ_BIN" "$out/bin/trustjoin"
fi
{
	printf 'LAB_SCENARIO=%q\n' "$script"
	printf 'LAB_RADIOS=%q\n' "$radios"
	printf 'LAB_KROOT=%q\n' "$kroot"
	printf 'LAB_ARGS=(%s)\n' "$(printf '%q ' "$@")"
} > "$out/.lab-env"

qemu=(qemu-system-x86_64 -m 1024 -smp 2 -nographic -no-reboot -nic none
	-kernel "$vmlinuz" -initrd "$initrd"
	-append "console=ttyS0 quiet loglevel=3 panic=-1 tj.interactive=$interactive"
	-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap
	-virtfs "local,path=$repo,mount_tag=src,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap")

if [ $interactive = 1 ]; then
	exec "${qemu[@]}"
fi

echo "lab: $name: booting ($radios radios, kernel $kver)" >&2
start=$(date +%s)
set +e
timeout --foreground -k 5 "$timeout" "${qemu[@]}" < /dev/null > "$out/console.log" 2>&1
qrc=$?
set -e
took=$(( $(date +%s) - start ))
if [ ! -f "$out/exit-code" ]; then
	echo "lab: $name: FAILED: the scenario never reported an exit code (qemu exit $qrc after ${took}s; timeout ${timeout}s)" >&2
	echo "---- last lines of the guest console ($out/console.log) ----" >&2
	tail -n 40 "$out/console.log" >&2
	exit 1
fi
rc=$(cat "$out/exit-code")
if [ "$rc" != 0 ]; then
	echo "lab: $name: FAILED with exit code $rc after ${took}s; logs in $out" >&2
	echo "---- last lines of $out/scenario.log ----" >&2
	tail -n 40 "$out/scenario.log" >&2 || true
	exit "$rc"
fi
echo "lab: $name: passed in ${took}s; logs in $out" >&2
