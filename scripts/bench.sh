#!/usr/bin/env bash
# `make bench`: benchmarks, each printed as a ratio against a baseline
# measured in the same run. Figures, not pass/fail: timing never fails a test.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
echo "== Go micro-benchmarks"
GOTOOLCHAIN=local go test -run '^$' -bench . -benchtime 2000x ./src/... | grep -E '^(Benchmark|ok|PASS)' || true
echo
scripts/bench/firewall.sh
echo
echo "== Onboarding in the lab: trustjoin vs the same steps with hostapd_cli (goal: ratio under 1.05)"
command -v bc >/dev/null || apt-get install -y -q bc >/dev/null
scripts/lab/run.sh --out .build/lab/bench test/lab/bench/onboard.sh
cat .build/lab/bench/bench.txt
