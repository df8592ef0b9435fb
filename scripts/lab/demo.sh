#!/usr/bin/env bash
# `make demo`: the main job on a simulated home network. A router (OpenWrt's
# own userland: procd, netifd and its wifi scripts, OpenWrt's hostapd,
# trustjoin installed by opkg; test/lab/README.md) onboards a camera and a speaker
# (wpa_supplicant on wlan1 and wlan2) by their QR codes; each gets its own
# credential and VLAN; hostapd and trustjoin are restarted; a device is
# removed and added again. Then a camera onboarded with a MUD URL is kept
# to what its signed MUD file allows. Narrated from the logs of the real runs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$repo/.build/lab/dpp
echo "Booting the simulated home network: an OpenWrt router and three devices (about four minutes)…"
"$repo/scripts/lab/run.sh" dpp
echo
echo "What happened:"
grep -E '^== ' "$out/scenario.log" | sed 's/^== \(\[[0-9]*s\] \)*/  • /'
echo
echo "The devices, as 'trustjoin devices' showed them:"
awk '/^ID /{p=1} p&&/^d-/{print "  " $0} /^== a malformed/{exit}' "$out/scenario.log"
echo
echo "Evidence from hostapd (each device on its own key id and VLAN, no shared password):"
grep -E 'AP-STA-CONNECTED|Assigned VLAN' "$out/hostapd.log" | sed 's/^[0-9.]*: /  /' | head -8
echo
echo "The access point's configuration as OpenWrt's wifi scripts wrote it from /etc/config/wireless:"
grep -E '^(interface|wpa_psk_file|dynamic_vlan|vlan_file|vlan_bridge|per_sta_vif)=' "$out/hostapd-phy0.conf" 2>/dev/null | sed 's/^/  /' || true
echo
echo "No passphrase in any of the router's logs (checked by the scenario); full logs in $out"

echo
echo "Then a camera kept in its lane (about four minutes): it names its maker's MUD file when"
echo "onboarded; trustjoin fetches it over HTTPS, checks its signature and compiles it to nftables."
"$repo/scripts/lab/run.sh" mud
mud=$repo/.build/lab/mud
echo
echo "What happened:"
grep -E '^== ' "$mud/scenario.log" | sed 's/^== \(\[[0-9]*s\] \)*/  • /'
echo
echo "The camera's MUD status, as 'trustjoin device camera' showed it:"
grep -m1 -E '^enforced \|' "$mud/scenario.log" | sed 's/^/  /'
echo
echo "trustjoin's own nftables tables (beside fw4's): $(grep -c '^table .* trustjoin' "$mud/nft-ruleset.txt" || true) tables; full ruleset in $mud/nft-ruleset.txt"
