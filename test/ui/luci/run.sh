#!/usr/bin/env bash
# Tests of the LuCI app (luci-app/): as root with Debian's Chromium, every
# page on OpenWrt's real LuCI, rpcd and uhttpd (openwrt.test.js, router.js:
# a root built by scripts/openwrt); the views in jsdom with a LuCI stand-in
# for edge cases; the ACL checked against the views and `trustjoin rpcd
# list`.
# Exits non-zero when a test fails. Called by test/ui/run.sh.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
exec node --test
