#!/usr/bin/env bash
# Real-browser tests of the phone pages: Debian's Chromium, driven by
# playwright-core from plain node (node:test), against a real trustjoin
# daemon with a fake hostapd control socket (test/ui/phone/helper). The
# daemon and the browser run in a network namespace of their own where the
# router's LAN address is 192.168.1.1, so the page is what a phone sees:
# plain http://, not a secure context. Screenshots at phone size go to
# screenshots/. Exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)

if [ "${1:-}" != --inside ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP test/ui/phone: needs root for a network namespace (CI runs as root)"
		exit 0
	fi
	if [ ! -x /usr/bin/chromium ]; then
		echo "FAIL test/ui/phone: /usr/bin/chromium is missing: apt-get install chromium (.ci/install-deps.sh does)" >&2
		exit 1
	fi
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
	work=$(mktemp -d /tmp/trustjoin-ui-phone.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	(cd "$root" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -o "$work/trustjoin" ./src/cmd/trustjoin &&
		CGO_ENABLED=0 GOTOOLCHAIN=local go build -o "$work/helper" ./test/ui/phone/helper)
	status=0
	unshare --net "$0" --inside "$work" || status=$?
	if [ $status -ne 0 ]; then
		echo "--- daemon log" >&2
		cat "$work/daemon.log" >&2 || true
		echo "FAIL test/ui/phone" >&2
	fi
	exit $status
fi

work=$2
ip link set lo up
ip addr add 192.168.1.1/24 dev lo
cat >"$work/config" <<CFG
config trustjoin 'main'
	option state_dir '$work/state'
	option run_dir '$work/run'
	option hostapd_ctrl_dir '$work/hostapd'
	option log_level 'debug'

config onboarding 'onboarding'
	option legacy_passphrase '1'

config wifi 'home'
	option ifname 'wlan0'

config web 'web'
	option enabled '1'
	list listen '192.168.1.1:8099'
	option token_ttl '60'
CFG

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

"$work/helper" hostapd -dir "$work/hostapd" -psk "$work/state/psk/wlan0.psk" -log "$work/hostapd.log" &
pids+=($!)
"$work/trustjoin" daemon --config "$work/config" --last-good "$work/last-good.uci" 2>"$work/daemon.log" &
pids+=($!)
for _ in $(seq 100); do
	if grep -q "access point ready for onboarding" "$work/daemon.log" && grep -q "phone pages listening" "$work/daemon.log"; then
		break
	fi
	sleep 0.1
done
grep -q "phone pages listening" "$work/daemon.log" || { echo "the daemon did not start its phone pages" >&2; exit 1; }

export TJ_BIN="$work/trustjoin" TJ_CONFIG="$work/config" TJ_WORK="$work" TJ_HELPER="$work/helper"
export TJ_HOSTAPD_LOG="$work/hostapd.log" TJ_DAEMON_LOG="$work/daemon.log" TJ_SCREENSHOTS="$here/screenshots"
mkdir -p "$here/screenshots"
cd "$here"
node --test --test-reporter=spec phone.test.mjs
