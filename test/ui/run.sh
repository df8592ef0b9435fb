#!/usr/bin/env bash
# Browser and LuCI view tests: every suite under test/ui/ with a run.sh.
# Each suite installs its own npm packages (npm ci, pinned) and drives
# Debian's Chromium (/usr/bin/chromium) through playwright-core.
set -euo pipefail
cd "$(dirname "$0")"
failed=()
ran=0
for suite in */run.sh; do
	[ -x "$suite" ] || continue
	name=${suite%/run.sh}
	echo "== ui: $name"
	ran=$((ran + 1))
	if ! "./$suite"; then
		failed+=("$name")
	fi
done
if [ "$ran" -eq 0 ]; then
	echo "ui: no suites found" >&2
	exit 1
fi
if [ "${#failed[@]}" -gt 0 ]; then
	echo "ui: failed: ${failed[*]}" >&2
	exit 1
fi
echo "ui: $ran suites passed"
