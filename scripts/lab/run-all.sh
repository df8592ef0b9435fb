#!/usr/bin/env bash
# Runs the lab scenarios, each in a VM boot of its own, prints a summary and
# fails if any failed. Used by `make test`. No Go needed beyond building
# trustjoin once (or TJ_BIN set).
#
#   scripts/lab/run-all.sh [SCENARIO[@RELEASE/HOSTAPD]...]
#
# Without arguments: every scenario in test/lab/scenarios on OpenWrt main's
# wifi scripts with OpenWrt's hostapd, then the ones listed in $extra below
# on the other builds (Debian's hostapd 2.10 behind the stand-in, the
# 24.10 and 23.05 wifi scripts). A name alone runs on LAB_RELEASE and
# LAB_HOSTAPD (default main/openwrt); NAME@RELEASE/HOSTAPD on those.
# Results of NAME go to .build/lab/NAME, of NAME@R/H to .build/lab/NAME@R-H.
#
# Environment: as scripts/lab/run.sh (TJ_BIN, TJ_IPK, TRUSTJOIN_LAB_CACHE,
# LAB_TIMEOUT, LAB_RELEASE, LAB_HOSTAPD).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)

# What runs on the other builds besides every scenario on main/openwrt:
# each once it has passed there (test/lab/README.md, "What runs on which
# build"). foundation on 24.10's and 23.05's scripts (two to five minutes
# each), phone on 24.10's and pkex-chirp on 23.05's (about three and two);
# dpp on 24.10's failed once (a device kept off in the emulated VM) and
# passed once since, on 23.05's passed close to its time limit: not yet;
# foundation and dpp on Debian's hostapd 2.10 behind the stand-in (four to
# five minutes each).
extra=(foundation@24.10/openwrt foundation@23.05/openwrt phone@24.10/openwrt pkex-chirp@23.05/openwrt
	foundation@main/debian dpp@main/debian)

names=()
if [ $# -gt 0 ]; then
	names=("$@")
else
	for s in "$repo"/test/lab/scenarios/*.sh; do
		name=$(basename "$s" .sh)
		# demo.sh is `make demo`'s show, not a test of its own.
		[ "$name" = demo ] && continue
		names+=("$name")
	done
	names+=(${extra[@]+"${extra[@]}"})
fi
[ ${#names[@]} -gt 0 ] || { echo "lab: no scenarios in test/lab/scenarios" >&2; exit 1; }

# One binary for all scenarios.
if [ -z "${TJ_BIN:-}" ]; then
	TJ_BIN=$repo/.build/lab/trustjoin
	mkdir -p "$repo/.build/lab"
	(cd "$repo" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -o "$TJ_BIN" ./src/cmd/trustjoin) ||
		{ echo "lab: FAILED: could not build trustjoin (go build ./src/cmd/trustjoin)" >&2; exit 1; }
fi
export TJ_BIN
# One package for all scenarios' routers too (run.sh would build it for each).
if [ -z "${TJ_IPK:-}" ]; then
	rm -rf "$repo/.build/lab/ipk"
	(cd "$repo" && IPK_ARCHS=x86_64 IPK_OUT="$repo/.build/lab/ipk" IPK_BIN="$repo/.build/lab/ipk/bin" scripts/build/ipk.sh >/dev/null) ||
		{ echo "lab: FAILED: could not build trustjoin's .ipk (scripts/build/ipk.sh)" >&2; exit 1; }
	TJ_IPK=$(ls "$repo"/.build/lab/ipk/trustjoin_*_x86_64.ipk | head -1)
fi
export TJ_IPK

start=$(date +%s)
passed=0 failed=() results=()
for name in "${names[@]}"; do
	t0=$(date +%s)
	args=() out=${name%%@*}
	case "$name" in
	*@*/*)
		build=${name#*@}
		args=(--release "${build%/*}" --hostapd "${build#*/}" --out "$repo/.build/lab/$out@${build%/*}-${build#*/}")
		out=$out@${build%/*}-${build#*/}
		;;
	*@*) echo "lab: $name: give the build as NAME@RELEASE/HOSTAPD" >&2; exit 2 ;;
	esac
	if "$repo/scripts/lab/run.sh" "${args[@]}" "${name%%@*}"; then
		passed=$((passed + 1)); results+=("ok   $name ($(( $(date +%s) - t0 ))s)")
	else
		failed+=("$name"); results+=("FAIL $name ($(( $(date +%s) - t0 ))s, logs in .build/lab/$out)")
	fi
done
echo "---- lab scenarios ----"
printf '  %s\n' "${results[@]}"
echo "lab: ${passed} passed, ${#failed[@]} failed in $(( $(date +%s) - start ))s"
[ ${#failed[@]} = 0 ] || { echo "lab: FAILED: ${failed[*]}" >&2; exit 1; }
