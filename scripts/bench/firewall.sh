#!/usr/bin/env bash
# Firewall benchmark (part of `make bench`): packets per second through a
# router namespace with 0, 100 and 1000 devices' MUD policies (the corpus
# files in turn) against no rules and an osMUD-style linear baseline, all
# in the same run and printed as ratios; and how long Apply takes with 100
# and 1000 devices present. Needs root (network namespaces, nftables);
# the planner's benchmark before them does not.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
echo "== Firewall planner: planning one device with 1000 present vs 1 present (no kernel; goal: at most 1.5)"
# Rounds interleaved, medians compared, so a busy machine weighs on both.
GOTOOLCHAIN=local go test -run '^$' -bench '^BenchmarkPlanApply$' -benchtime 1000x -count 7 -benchmem ./src/internal/firewall/ |
	awk '/^BenchmarkPlanApply\/present=/ {split($1, a, /[=-]/); t[a[2]] = t[a[2]] " " $3; al[a[2]] = $7}
	function median(s,   v, n, i, j, x) {
		n = split(s, v, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { x = v[j]; v[j] = v[j-1]; v[j-1] = x }
		return n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
	}
	END {
		if (!("1" in t) || !("1000" in t)) { print "planner: no result"; exit }
		m1 = median(t["1"]); m100 = median(t["100"]); m1000 = median(t["1000"])
		printf "planner 1000/1: %.2f, 100/1: %.2f (medians %.0f, %.0f, %.0f µs with 1, 100, 1000 present; 7 rounds); allocations 1000/1: %.2f (%d vs %d)\n", m1000/m1, m100/m1, m1/1000, m100/1000, m1000/1000, al["1000"]/al["1"], al["1000"], al["1"]
	}'
echo
echo "== Firewall: pps through the router namespace, Apply latency"
if [ "$(id -u)" != 0 ]; then
	echo "skipped: needs root"
	exit 0
fi
TJ_BENCH_FIREWALL=1 GOTOOLCHAIN=local go test -count=1 -run '^TestThroughput$' -v ./src/internal/firewall/ |
	grep -E '^(Apply|firewall|no rules|one base chain|trustjoin|linear|pps:|goal|ok|FAIL|---)' || true
