#!/bin/bash
# lab: radios=2 timeout=420
# Behavioural analysis and re-segmentation (NIST SP 1800-36 S4.C5–C6): a
# camera in segment iot, which may not reach the internet here, keeps
# retrying one forbidden host, which is not reason enough to act; then it
# starts scanning forbidden hosts, and trustjoin quarantines it
# automatically within the configured window, with the reason recorded,
# shown and told; one command releases it.
. "$LAB_SRC/test/lab/lib.sh"
set -u

lab_internet

lab_router \
	"config segment 'iot'" "	option vlan '20'" "	option internet '0'" "	option isolate '1'" \
	"	option watch 'quarantine'" "	option watch_threshold '5'" "	option watch_window '60'" \
	"config segment 'quarantine'" "	option vlan '99'" "	option quarantine '1'"

say "the camera (its own network namespace) is onboarded into iot"
lab_camera_iot

# try HOST PORT: one TCP connection attempt from the camera.
try() { ip netns exec cam timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
quarantined() { tj device camera --json | grep -q '"quarantined": true'; }

# tried ADDRESS: the camera's history shows a drop to ADDRESS (what the
# firewall logged has reached the recorder, which has judged it).
tried() { tj device camera --json | grep -q "\"address\": \"$1\""; }

say "it retries one forbidden host twenty times: that is not reason enough"
for i in $(seq 20); do try 203.0.113.10 443; done
lab_wait 20 tried 203.0.113.10 || { tj device camera; fail "the camera's history does not show what it tried"; }
tj device camera --json > "$LAB_OUT/camera-before.json"
quarantined && fail "one forbidden destination retried quarantined the camera"
tj events | grep -q "keeps trying\|quarantined automatically" && fail "one forbidden destination retried was news: $(tj events)"

say "it starts scanning: five forbidden hosts on the telnet port, within the minute"
start=$(date +%s)
for h in 20 21 22 23 24 25; do try 203.0.113.$h 23; done
lab_wait 30 quarantined || { tj device camera; fail "the scanning camera was not quarantined"; }
took=$(( $(date +%s) - start ))
[ "$took" -le 60 ] || fail "quarantined after ${took}s, outside the 60 s window"
echo "quarantined ${took}s after it started scanning"
lab_wait 60 sh -c "grep -q 'VLAN ID 99' '$LAB_OUT/hostapd.log'" || fail "the camera was not put in the quarantine VLAN"

say "the reason is recorded, shown and told"
tj device camera | tee -a "$LAB_OUT/cli.log" | grep -q "quarantined automatically: tried [0-9]* forbidden destinations within 1m0s: 203.0.113.2[0-5]:23/tcp" ||
	fail "the device's history does not give the reason"
tj events | tee -a "$LAB_OUT/cli.log" | grep -q "auto-quarantine: camera was quarantined automatically" || fail "no security event"
grep -q 'security event: camera was quarantined automatically' "$LAB_OUT/trustjoin.log" || fail "the event is not in the log"

say "one command releases it"
tj release camera | tee -a "$LAB_OUT/cli.log" || fail "release failed"
back_in_20() { [ "$(grep -c 'Assigned VLAN ID 20 from' "$LAB_OUT/hostapd.log")" -ge 2 ]; }
# A deauthentication the loaded simulated radio drops is noticed by the
# station only some 30 s later (seen: 32 s), hence the bound.
lab_wait 90 back_in_20 || fail "the released camera did not come back to VLAN 20"
quarantined && fail "still quarantined after release"
lab_wait 60 lab_sta_connected wlan1 || fail "camera did not reconnect after release"
# hostapd deleted brvlan20 when its last station left for VLAN 99 and made
# it again without the router's address (a router's netifd keeps both).
lab_wait 10 test -e /sys/class/net/brvlan20 || fail "no bridge brvlan20 after the release"
ip addr replace 192.168.20.1/24 dev brvlan20
say "released, its earlier tries are not held against it"
# Tried until its history shows it: the camera's first packets after
# reconnecting may go before its interface is in the bridge again.
try_again() { try 203.0.113.30 23; tried 203.0.113.30; }
lab_wait 30 try_again || { tj device camera; fail "the camera's try after the release is not in its history"; }
tj device camera --json | tee -a "$LAB_OUT/cli.log" | grep -q '"address": "203.0.113.2[0-5]"' && fail "its history still holds what it tried before the release"
quarantined && fail "quarantined again for what it did before the release"
true
