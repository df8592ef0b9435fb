#!/bin/bash
# lab: radios=4 timeout=420
# Trusted onboarding with Wi-Fi Easy Connect, end to end: devices scanned
# by QR code get their own credential and VLAN; remove, re-onboard (and a
# re-onboarding that fails, which must not take the working credential),
# PKEX, a hostapd restart and a killed daemon.
. "$LAB_SRC/test/lab/lib.sh"
set -u

lab_router

pass_of() { grep "keyid=$1 " "$psk" | awk '{print $NF}'; }

say "an old laptop on wlan3 uses the household's shared password"
lab_start_sta wlan3
lab_connect_psk wlan3 "$LAB_HOUSEHOLD_PASS"
lab_wait 60 lab_sta_connected wlan3 || fail "household device did not connect"

say "a camera on wlan1 is onboarded by its QR code into segment iot, sending its MUD URL"
lab_start_sta wlan1
lab_wpa_cli wlan1 set dpp_mud_url https://mud.example.com/camera-v1.json >/dev/null
uri1=$(lab_dpp_qr wlan1)
echo "camera QR: ${uri1:0:40}…"
tj onboard --qr "$uri1" --name camera --segment iot || fail "onboarding the camera failed"
lab_wait 60 lab_sta_connected wlan1 || fail "camera not connected"
mac1=$(lab_mac wlan1)
lab_log_wait 10 "$LAB_OUT/hostapd.log" "AP-STA-CONNECTED $mac1 keyid=" || fail "camera did not connect with a key id of its own"
key1=$(keyid_of "$mac1")
[ -n "$key1" ] || fail "camera did not connect with a key id of its own"
lab_log_wait 10 "$LAB_OUT/hostapd.log" "Assigned VLAN ID 20 from wpa_psk_file to $mac1" || fail "camera not in VLAN 20"
tj device camera | tee -a "$LAB_OUT/cli.log" | grep -q 'state: connected' || fail "registry does not say connected"
camera_pass=$(pass_of "$key1")
# conf=sta-psk: the line holds the PSK trustjoin derived for the SSID, so
# hostapd's reloads derive nothing, and the camera got the same over DPP.
echo "$camera_pass" | grep -Eqx '[0-9a-f]{64}' || fail "the camera's line holds no derived PSK"
tj device camera --json | grep -q '"url": "https://mud.example.com/camera-v1.json"' ||
	fail "the MUD URL the camera sent during onboarding was not recorded"

say "a speaker on wlan2 gets a different passphrase and VLAN (guest)"
lab_start_sta wlan2
uri2=$(lab_dpp_qr wlan2)
tj onboard --qr "$uri2" --name speaker --segment guest || fail "onboarding the speaker failed"
lab_wait 60 lab_sta_connected wlan2 || fail "speaker not connected"
mac2=$(lab_mac wlan2)
lab_log_wait 10 "$LAB_OUT/hostapd.log" "AP-STA-CONNECTED $mac2 keyid=" || fail "speaker did not connect with a key id"
key2=$(keyid_of "$mac2")
[ -n "$key2" ] && [ "$key2" != "$key1" ] || fail "speaker has no key id of its own"
lab_log_wait 10 "$LAB_OUT/hostapd.log" "Assigned VLAN ID 30 from wpa_psk_file to $mac2" || fail "speaker not in VLAN 30"
speaker_pass=$(pass_of "$key2")
[ -n "$camera_pass" ] && [ "$camera_pass" != "$speaker_pass" ] || fail "the two devices share a passphrase"
tj devices | tee -a "$LAB_OUT/cli.log"
# Every reply a script or the LuCI page gets, kept for the secret check below.
for c in "devices --json" "status --json" "device camera --json" "preauth list --json"; do
	tj $c >> "$LAB_OUT/cli.log" || fail "trustjoin $c failed"
done
grep -q '"key_id"' "$LAB_OUT/cli.log" || fail "the JSON replies lack the credential's key id"

say "a malformed QR code is refused with a reason"
out=$(tj onboard --qr "WIFI:S:home;T:WPA;P:x;;" 2>&1) && fail "a Wi-Fi network QR code was accepted"
echo "$out" | grep -q "not a device's Wi-Fi Easy Connect code" || fail "unclear error: $out"

say "hostapd killed: procd and netifd bring it back, trustjoin recovers, devices reconnect with their credentials"
hpid=$(lab_hostapd_pid)
[ -n "$hpid" ] || fail "no hostapd process"
attached=$(grep -c 'access point ready for onboarding' "$LAB_OUT/trustjoin.log")
kill "$hpid"
lab_wait 40 sh -c "! kill -0 $hpid 2>/dev/null" || fail "hostapd did not exit within 40 s of SIGTERM"
# OpenWrt: procd respawns wpad (wpad.init), netifd sees the hostapd it
# configured gone and sets the radio up again; the stand-in: netifd alone.
owrt_ap_up "$LAB_AP"
lab_wait 60 sh -c "[ \$(grep -c 'access point ready for onboarding' '$LAB_OUT/trustjoin.log') -gt $attached ]" || fail "trustjoin did not re-attach after the restart"
lab_wait 60 lab_sta_connected wlan1 || fail "camera did not reconnect after hostapd restarted"
lab_wait 60 lab_sta_connected wlan2 || fail "speaker did not reconnect after hostapd restarted"

say "trustjoin killed (SIGKILL): procd respawns it, no device lost"
pid=$(lab_tj_pid)
[ -n "$pid" ] || fail "procd reports no trustjoin instance"
before=$(owrt_tj_ready_count)
kill -9 "$pid"
lab_wait 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "trustjoin survived SIGKILL"
owrt_tj_wait_ready "$before"
[ "$(lab_tj_pid)" != "$pid" ] || fail "procd did not start a new trustjoin"
tj devices | tee -a "$LAB_OUT/cli.log" | grep -q camera || fail "camera lost after SIGKILL"
tj devices | grep -q speaker || fail "speaker lost after SIGKILL"

say "the camera is removed: it cannot connect any more"
before=$(grep -c "AP-STA-CONNECTED $mac1" "$LAB_OUT/hostapd.log")
# Either side tells of a refusal: hostapd finds no key for it, the camera's
# handshake fails.
refusals() {
	echo $(( $(grep -c "AP-STA-POSSIBLE-PSK-MISMATCH $mac1" "$LAB_OUT/hostapd.log") +
		$(grep -c "4-Way Handshake failed\|reason=WRONG_KEY" "$LAB_OUT/wpa_supplicant-wlan1.log") ))
}
refused_before=$(refusals)
tj remove camera || fail "remove failed"
grep -q "keyid=$key1 " "$psk" && fail "removed camera's line is still in the PSK file"
# The camera tries again with the passphrase it was given: it must fail.
lab_wpa_cli wlan1 reassociate >/dev/null
refused() { [ "$(refusals)" -gt "$refused_before" ]; }
lab_wait 60 refused || fail "the removed camera's attempt was not refused"
lab_sta_connected wlan1 && fail "removed camera connected again"
[ "$(grep -c "AP-STA-CONNECTED $mac1" "$LAB_OUT/hostapd.log")" = "$before" ] ||
	fail "hostapd let the removed camera connect again"

say "the camera is onboarded again: it gets a new credential"
lab_wpa_cli wlan1 remove_network all >/dev/null
uri1=$(lab_dpp_qr wlan1)
tj onboard --qr "$uri1" --name camera --segment iot || fail "re-onboarding the camera failed"
lab_wait 60 lab_sta_connected wlan1 || fail "re-onboarded camera not connected"
lab_wait 10 sh -c "[ \$(grep -c 'AP-STA-CONNECTED $mac1 keyid=' '$LAB_OUT/hostapd.log') -gt 1 ]"
new_pass=$(pass_of "$(keyid_of "$mac1")")
[ -n "$new_pass" ] && [ "$new_pass" != "$camera_pass" ] || fail "re-onboarded camera did not get a new credential"

say "the camera is scanned again while not in pairing mode: the exchange fails, its credential keeps working"
key=$(keyid_of "$mac1")
cam=$(tj device camera --json | jq -r .id)
failures=$(tj status --json | jq .counters.onboarding_failures)
# Not in pairing mode: it neither listens nor knows its code any more.
lab_wpa_cli wlan1 dpp_stop_listen >/dev/null
lab_wpa_cli wlan1 dpp_bootstrap_remove '*' >/dev/null
out=$(tj onboard --qr "$uri1" --name camera 2>&1) && fail "an exchange with a device not in pairing mode succeeded: $out"
echo "$out" | tee -a "$LAB_OUT/cli.log" | grep -q "did not answer" || fail "unclear outcome: $out"
grep -q "keyid=$key " "$psk" || fail "the failed exchange took the camera's working credential away"
[ "$(pass_of "$key")" = "$new_pass" ] || fail "the failed exchange changed the camera's credential"
[ "$(grep -c "keyid=$cam" "$psk")" = 1 ] || fail "the failed exchange left a second line for the camera behind"
[ "$(tj status --json | jq .counters.onboarding_failures)" = $((failures + 1)) ] ||
	fail "the failed exchange was not counted: $(tj status --json | jq -c .counters)"
tj device camera | grep -q 'state: connected' || fail "the registry no longer says the camera is connected"
before=$(grep -c "AP-STA-CONNECTED $mac1 keyid=$key" "$LAB_OUT/hostapd.log")
lab_wpa_cli wlan1 disconnect >/dev/null
lab_wpa_cli wlan1 reconnect >/dev/null
lab_wait 60 sh -c "[ \$(grep -c 'AP-STA-CONNECTED $mac1 keyid=$key' '$LAB_OUT/hostapd.log') -gt $before ]" ||
	fail "the camera could not connect again with its credential after the failed exchange"

say "the laptop on the shared password is still connected after all the onboarding, removals and restarts"
lab_wait 60 lab_sta_connected wlan3 || fail "household device lost its connection"

say "no passphrase in the router's logs (trustjoin's, hostapd's, netifd's, procd's: all of syslog) or the CLI's output"
for p in "$camera_pass" "$speaker_pass" "$new_pass"; do
	lab_no_secret "$p" "$LAB_OUT/syslog.log" "$LAB_OUT/cli.log"
done
lab_no_secret "$LAB_HOUSEHOLD_PASS" "$LAB_OUT/trustjoin.log" "$LAB_OUT/cli.log"
say "dpp: OK"
