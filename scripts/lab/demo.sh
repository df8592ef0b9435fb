#!/usr/bin/env bash
# `make demo`: the main job on a simulated home network, narrated from the
# logs of a real run (hostapd, wpa_supplicant and trustjoin in the lab VM).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
scenario=demo
[ -f "$repo/test/lab/scenarios/demo.sh" ] || scenario=foundation
out=$repo/.build/lab/$scenario
echo "Booting the simulated home network: a router (hostapd on wlan0) and devices (wpa_supplicant on wlan1, wlan2)…"
"$repo/scripts/lab/run.sh" "$scenario"
echo
echo "What happened (from $out):"
grep -E '^== ' "$out/scenario.log" | sed 's/^== /  • /'
echo
echo "Evidence:"
grep -m1 'msg=ready' "$out/trustjoin.log" | sed 's/^/  trustjoin: /' || true
grep -m1 -E 'GET_CAPABILITY dpp' "$out/scenario.log" | sed 's/^/  hostapd: /' || true
grep -E 'AP-STA-CONNECTED' "$out/hostapd.log" | sed 's/^[0-9.]*: /  hostapd: /' || true
grep -m1 -E 'VLAN ID [0-9]+' "$out/hostapd.log" | sed 's/^[0-9.]*: /  hostapd: /' || true
