#!/usr/bin/env bash
# Builds OpenWrt's real userland from the source archives in
# ../shared/openwrt-src (see scripts/openwrt/README.md) and prints the
# install prefix: a root-like tree laid out as on OpenWrt (usr/bin, sbin,
# usr/lib/ucode, ...), for chroots made by root.sh, or for the host with
# LD_LIBRARY_PATH=<prefix>/usr/lib.
#
#   scripts/openwrt/build.sh [component...]   (default: the core set)
#   scripts/openwrt/build.sh --src            (where the source archives are)
#
# One recipe per component in scripts/openwrt/recipes/<component>.sh. Each
# component is cached in ${TRUSTJOIN_OPENWRT_CACHE:-~/.cache/trustjoin-openwrt}/
# <component>-<key>/ (with its dependencies), the key hashing its source
# archives, its recipe, lib.sh, the compiler and its dependencies' keys; a set
# of several is their union in set-<key>/. Runs under a lock, so parallel
# callers wait for one another and then find the cache. Progress and build
# logs go to stderr; only the prefix goes to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${TRUSTJOIN_OPENWRT_CACHE:-$HOME/.cache/trustjoin-openwrt}

# The core set: what the project's tests stand on. Other recipes (bbfdm,
# hostapd, ...) are built when named.
CORE="libubox libnl-tiny uci ubus jsonfilter ucode rpcd uhttpd lucihttp luci-base opkg procd netifd"

say() { echo "openwrt: $*" >&2; }
die() { say "$*"; exit 1; }

# The source archives: $TRUSTJOIN_OPENWRT_SRC, else shared/openwrt-src beside
# the checkout or a directory above it (worktrees live deeper).
src_dir() {
	if [ -n "${TRUSTJOIN_OPENWRT_SRC:-}" ]; then
		echo "$TRUSTJOIN_OPENWRT_SRC"
		return
	fi
	local d=$repo
	while [ "$d" != / ]; do
		d=$(dirname "$d")
		if [ -f "$d/shared/openwrt-src/SOURCES.txt" ]; then
			echo "$d/shared/openwrt-src"
			return
		fi
	done
	die "no openwrt-src found beside the checkout (set TRUSTJOIN_OPENWRT_SRC)"
}
SRC=$(src_dir)

# recipe_var COMPONENT VAR: a variable a recipe declares (archive, deps, apt).
recipe_var() {
	local f=$here/recipes/$1.sh
	[ -f "$f" ] || die "no recipe for '$1' (scripts/openwrt/recipes/$1.sh)"
	(
		archive=$1 deps="" apt="" extra_archives=""
		# shellcheck disable=SC1090
		. "$f"
		eval "echo \"\${$2}\""
	)
}

declare -A KEY=() SUM=()
# compute_key COMPONENT: the cache key, into KEY[COMPONENT] (in this shell:
# a $(...) would lose what it remembers).
compute_key() {
	local c=$1 a d parts
	[ -n "${KEY[$c]:-}" ] && return
	parts="format 1
$TOOLS
$(sha256sum < "$here/recipes/$c.sh")
$(sha256sum < "$here/lib.sh")"
	for a in $(recipe_var "$c" archive) $(recipe_var "$c" extra_archives); do
		[ -f "$SRC/$a.tar.gz" ] || die "$c: no archive $SRC/$a.tar.gz"
		[ -n "${SUM[$a]:-}" ] || SUM[$a]=$(sha256sum < "$SRC/$a.tar.gz")
		parts+="
$a ${SUM[$a]}"
	done
	for d in $(recipe_var "$c" deps); do
		compute_key "$d"
		parts+="
$d ${KEY[$d]}"
	done
	KEY[$c]=$(echo "$parts" | sha256sum | cut -c1-16)
}
key() { compute_key "$1"; echo "${KEY[$1]}"; }

# closure COMPONENT...: the components and all their dependencies,
# dependencies first.
declare -A SEEN=()
ORDER=()
visit() {
	local d
	case "${SEEN[$1]:-}" in
	done) return ;;
	busy) die "dependency cycle at $1" ;;
	esac
	SEEN[$1]=busy
	for d in $(recipe_var "$1" deps); do visit "$d"; done
	SEEN[$1]=done
	ORDER+=("$1")
}

# need_apt: install missing Debian build packages (as root, apt-get).
need_apt() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	say "installing Debian build packages: ${missing[*]}"
	[ "$(id -u)" = 0 ] || die "need root to install ${missing[*]} (or run .ci/install-deps.sh)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
}

# build_one COMPONENT: build into a fresh stage holding its dependencies,
# then move it into the cache in one rename.
build_one() {
	local c=$1 k dir tmp log start a d
	k=$(key "$c")
	dir=$cache/$c-$k
	[ -f "$dir/.trustjoin-openwrt" ] && return
	need_apt $(recipe_var "$c" apt)
	tmp=$(mktemp -d "$cache/tmp.$c.XXXXXX")
	log=$cache/logs/$c-$k.log
	mkdir -p "$tmp/root" "$tmp/work" "$cache/logs"
	for d in $(recipe_var "$c" deps); do
		cp -a "$cache/$d-$(key "$d")/." "$tmp/root/"
	done
	rm -f "$tmp/root/.trustjoin-openwrt"
	for a in $(recipe_var "$c" archive) $(recipe_var "$c" extra_archives); do
		tar -xzf "$SRC/$a.tar.gz" -C "$tmp/work"
	done
	say "building $c ($k), log in $log"
	start=$(date +%s)
	# A bash of its own, so that -e holds inside the recipe (a subshell in
	# an if would ignore it).
	if ! DEST=$tmp/root OPENWRT=$tmp/work/openwrt JOBS=${JOBS:-$(nproc)} SRC=$SRC \
		bash -euo pipefail -c 'cd "$1"; . "$2/lib.sh"; . "$2/recipes/$3.sh"; set -x; build' \
		build "$tmp/work/$(recipe_var "$c" archive)" "$here" "$c" \
		> "$log" 2>&1; then
		tail -n 40 "$log" >&2
		rm -rf "$tmp"
		die "building $c failed (log: $log)"
	fi
	printf 'component %s\nkey %s\nbuilt %s in %ss\n' "$c" "$k" "$(date -u +%FT%TZ)" $(( $(date +%s) - start )) > "$tmp/root/.trustjoin-openwrt"
	rm -rf "$dir"
	mv "$tmp/root" "$dir"
	rm -rf "$tmp"
	say "built $c in $(( $(date +%s) - start )) s"
}

main() {
	local want=("$@") c
	if [ "${1:-}" = --src ]; then # where the archives are, for root.sh
		echo "$SRC"
		return
	fi
	[ ${#want[@]} -gt 0 ] || read -r -a want <<< "$CORE"
	mkdir -p "$cache"
	exec 9> "$cache/.lock"
	flock 9
	# Left by a run that was killed: nobody else holds the lock.
	rm -rf "$cache"/tmp.*
	TOOLS="gcc $(gcc -dumpfullversion 2>/dev/null)"
	for c in "${want[@]}"; do visit "$c"; done
	for c in "${ORDER[@]}"; do compute_key "$c"; done
	for c in "${ORDER[@]}"; do build_one "$c"; done

	if [ ${#want[@]} -eq 1 ]; then
		echo "$cache/${want[0]}-$(key "${want[0]}")"
		return
	fi
	# Several: their union, keyed by their keys.
	local setkey dir tmp
	setkey=$(for c in "${want[@]}"; do echo "$c $(key "$c")"; done | sort -u | sha256sum | cut -c1-16)
	dir=$cache/set-$setkey
	if [ ! -f "$dir/.trustjoin-openwrt" ]; then
		tmp=$(mktemp -d "$cache/tmp.set.XXXXXX")
		for c in "${want[@]}"; do cp -a "$cache/$c-$(key "$c")/." "$tmp/"; done
		for c in "${want[@]}"; do echo "component $c $(key "$c")"; done > "$tmp/.trustjoin-openwrt"
		rm -rf "$dir"
		mv "$tmp" "$dir"
	fi
	echo "$dir"
}

main "$@"
