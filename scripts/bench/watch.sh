#!/usr/bin/env bash
# Watching benchmark (part of `make bench`): what watching devices costs,
# as ratios against the same run without it: CPU time per 1000 packets a
# device's policy drops, with the firewall's tables logging them to NFLOG
# and the daemon's feed reading them, against the same tables without a
# log group; memory per device with 500 devices (full histories) against
# the registry's own. CPU needs root (namespaces).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
echo "== Watching: CPU per 1000 dropped packets, memory per device"
# CPU: the firewall's own tables with and without a log group, read by
# behaviour's Feed into a Recorder (the daemon's path); memory: the
# recorder's histories.
if [ "$(id -u)" = 0 ]; then
	TJ_BENCH_WATCH=1 GOTOOLCHAIN=local go test -count=1 -run '^TestWatchCost$' -v ./src/internal/firewall/ |
		grep -E 'watch:|^FAIL' | sed -E 's/^\s+\S+_test.go:[0-9]+: watch: //' || true
else
	echo "CPU: skipped, needs root"
fi
TJ_BENCH_WATCH=1 GOTOOLCHAIN=local go test -count=1 -run '^TestWatchMemory$' -v ./src/internal/behaviour/ |
	grep -E 'watch:|^FAIL' | sed -E 's/^\s+\S+_test.go:[0-9]+: watch: //' || true
