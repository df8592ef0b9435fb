#!/usr/bin/env bash
# `make test-fuzz`: every fuzz target (func Fuzz… in src/) on FUZZTIME
# generated inputs each (default 5000x), beyond its seed corpus, which
# plain `go test` runs anyway. A count, not a duration: with a duration,
# Go's fuzzing coordinator can report its own deadline as a failure on a
# loaded machine (golang/go#75804). Each package's instrumented test
# binary is built once for all its targets. An input that fails is saved
# under the package's testdata/fuzz/ and fails the run; commit it with the
# fix, so it is tried from then on.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export GOTOOLCHAIN=local CGO_ENABLED=0
fuzztime=${FUZZTIME:-5000x}
cache=$(go env GOCACHE)/fuzz
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
n=0
start=$(date +%s)
for dir in $(grep -l '^func Fuzz' src/internal/*/*_test.go | xargs -n1 dirname | sort -u); do
	pkg=$(go list "./$dir")
	go test -c -fuzz . -o "$bin/t" "./$dir"
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | cut -d' ' -f2); do
		if ! out=$(cd "$dir" && "$bin/t" -test.run '^$' -test.fuzz "^$target\$" -test.fuzztime "$fuzztime" \
			-test.fuzzcachedir "$cache/$pkg" 2>&1); then
			echo "$out"
			echo "FAIL: fuzz $dir $target"
			exit 1
		fi
		echo "ok   fuzz $dir $target"
		n=$((n + 1))
	done
done
echo "fuzz: $n targets, $fuzztime inputs each, in $(( $(date +%s) - start )) s"
