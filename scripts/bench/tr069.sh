#!/usr/bin/env bash
# TR-069/USP bulk provisioning: 1000 pre-authorised devices pushed through
# the real bbfdm (built from openwrt-src, run in an OpenWrt-like chroot),
# as a ratio against writing the same UCI sections by hand with one
# `uci batch`; each until trustjoin has applied them all. Needs root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
echo "== TR-069: 1000 pre-authorised devices through bbfdm vs uci batch by hand"
if [ "$(id -u)" != 0 ]; then
	echo "tr069: skipped, needs root (chroot)"
	exit 0
fi
TJ_BENCH_TR069=1 GOTOOLCHAIN=local go test -count=1 -timeout 60m -run '^TestBenchPreauth$' -v ./test/tr069/ |
	grep -E '^(tr069:|FAIL|---|\s+\S+_test.go)' | grep -v -- '--- PASS' || true
