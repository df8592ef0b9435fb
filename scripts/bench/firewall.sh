#!/usr/bin/env bash
# Firewall benchmark (part of `make bench`): packets per second through a
# router namespace with 0, 100 and 1000 devices' MUD policies (the corpus
# files in turn) against no rules and an osMUD-style linear baseline, all
# in the same run and printed as ratios; and how long Apply takes with 100
# and 1000 devices present. Needs root (network namespaces, nftables).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
echo "== Firewall: pps through the router namespace, Apply latency"
if [ "$(id -u)" != 0 ]; then
	echo "skipped: needs root"
	exit 0
fi
TJ_BENCH_FIREWALL=1 GOTOOLCHAIN=local go test -count=1 -run '^TestThroughput$' -v ./src/internal/firewall/ |
	grep -E '^(Apply|firewall|no rules|one base chain|trustjoin|linear|pps:|goal|ok|FAIL|---)' || true
