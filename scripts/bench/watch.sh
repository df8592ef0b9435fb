#!/usr/bin/env bash
# Watching benchmark (part of `make bench`): what watching devices costs,
# as ratios against the same run without it: CPU time per 1000 packets a
# device's policy drops (logged to NFLOG at the rate the firewall installs,
# and every one logged), and memory per device with 500 devices (full
# histories) against the registry's own. CPU needs root (namespaces).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
echo "== Watching: CPU per 1000 dropped packets, memory per device"
run='^TestWatchMemory$'
if [ "$(id -u)" = 0 ]; then
	run='^TestWatch(Cost|Memory)$'
else
	echo "CPU: skipped, needs root"
fi
TJ_BENCH_WATCH=1 GOTOOLCHAIN=local go test -count=1 -run "$run" -v ./src/internal/behaviour/ |
	grep -E 'watch:|^FAIL' | sed -E 's/^\s+\S+_test.go:[0-9]+: watch: //' || true
