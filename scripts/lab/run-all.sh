#!/usr/bin/env bash
# Runs every lab scenario (test/lab/scenarios/*.sh), each in its own VM boot,
# and fails if any failed. Used by `make test`.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# One binary for all scenarios.
bin=$repo/.build/lab/trustjoin
(cd "$repo" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -o "$bin" ./src/cmd/trustjoin) || exit 1
passed=0 failed=0 names=()
for s in "$repo"/test/lab/scenarios/*.sh; do
	name=$(basename "$s" .sh)
	[ "$name" = demo ] && continue
	if TJ_BIN=$bin "$repo/scripts/lab/run.sh" "$name"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); names+=("$name")
	fi
done
echo "lab: $passed passed, $failed failed"
[ $failed = 0 ] || { echo "lab: failed: ${names[*]}"; exit 1; }
