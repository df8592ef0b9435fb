#!/usr/bin/env bash
# `make bench`: benchmarks, each printed as a ratio against a baseline
# measured in the same run. Figures, not pass/fail: timing never fails a test.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
echo "== Go micro-benchmarks"
GOTOOLCHAIN=local go test -run '^$' -bench . -skip '^(BenchmarkThroughput|BenchmarkPlanApply)$' -benchtime 2000x ./src/... | grep -E '^(Benchmark|ok|PASS)' || true
echo
scripts/bench/firewall.sh
echo
scripts/bench/watch.sh
echo "== BRSKI join proxy: relayed vs direct throughput (goal: at least 0.90), memory per idle pledge; constrained relay vs direct"
GOTOOLCHAIN=local go test -run '^$' -bench '^BenchmarkThroughput$' -benchtime 3000x -count 5 ./src/internal/brski/ |
	awk '/Throughput\/direct/ {d += $(NF-1); nd++} /Throughput\/relayed/ {r += $(NF-1); nr++}
	END {if (nd && nr) printf "loopback relayed/direct: %.2f (%.0f vs %.0f MB/s, means of %d runs each)\n", (r/nr)/(d/nd), r/nr, d/nd, nd}'
# Pledge, router and registrar namespaces: routed by the kernel vs
# relayed by the proxy, unshaped and with the links shaped to a LAN rate;
# then the constrained (stateless, JPY) relay: datagrams per second and
# round trip against a routed UDP path.
if [ "$(id -u)" = 0 ]; then
	TJ_BENCH_BRSKI=1 GOTOOLCHAIN=local go test -count=1 -run '^(TestThroughputNetns|TestStatelessRelayNetns)$' -v ./src/internal/brski/ |
		grep -E '^(netns|goal|FAIL|---|\s+\S+_test.go)' | grep -v -- '--- PASS' || true
else
	echo "netns: skipped, needs root"
fi
GOTOOLCHAIN=local go test -count 1 -run '^TestIdlePledgeMemory$' -v ./src/internal/brski/ |
	grep -E '_test.go:[0-9]+:|^FAIL' | sed -E 's/^\s+\S+_test.go:[0-9]+: //' || true
echo
scripts/bench/tr069.sh
echo
echo "== Onboarding in the lab: trustjoin vs the same steps with hostapd_cli (goal: ratio under 1.05)"
command -v bc >/dev/null || apt-get install -y -q bc >/dev/null
scripts/lab/run.sh --out .build/lab/bench test/lab/bench/onboard.sh
cat .build/lab/bench/bench.txt
