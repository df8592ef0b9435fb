#!/usr/bin/env bash
# Tests of the LuCI app (luci-app/): the views run in jsdom with a LuCI
# stand-in, the ACL is checked against the views and `trustjoin rpcd list`,
# and, where Debian's Chromium is installed, the Add page runs in it.
# Exits non-zero when a test fails. Called by test/ui/run.sh.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
exec node --test
