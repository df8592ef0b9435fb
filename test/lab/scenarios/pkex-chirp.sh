#!/bin/bash
# lab: radios=3 timeout=420
# Onboarding without a QR code: a device that only has a PKEX code, and a
# pre-authorised device (its URI pushed beforehand, as an ISP would) that
# onboards with no touch when it announces itself (chirp).
. "$LAB_SRC/test/lab/lib.sh"
set -u

lab_router

say "a plug with a PKEX code on wlan1 is onboarded into segment iot"
lab_start_sta wlan1
code="plug-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
tj onboard --pkex "$code" --id plug1 --name plug --segment iot > "$LAB_OUT/pkex-onboard.log" 2>&1 &
onboard=$!
# The device starts once hostapd has the code and listens (the CLI says so).
lab_wait 30 grep -q 'waiting for the device' "$LAB_OUT/pkex-onboard.log" ||
	{ cat "$LAB_OUT/pkex-onboard.log"; fail "the router never waited for the plug with its code"; }
own=$(lab_wpa_cli wlan1 dpp_bootstrap_gen type=pkex | tail -1)
lab_wpa_cli wlan1 dpp_pkex_add own="$own" identifier=plug1 init=1 role=enrollee code="$code" >/dev/null
wait $onboard || { cat "$LAB_OUT/pkex-onboard.log"; fail "PKEX onboarding failed"; }
cat "$LAB_OUT/pkex-onboard.log"
lab_wait 60 lab_sta_connected wlan1 || fail "plug not connected"
mac1=$(lab_mac wlan1)
lab_log_wait 10 "$LAB_OUT/hostapd.log" "AP-STA-CONNECTED $mac1 keyid=" || fail "plug did not connect with its own key id"
lab_log_wait 10 "$LAB_OUT/hostapd.log" "Assigned VLAN ID 20 from wpa_psk_file to $mac1" || fail "plug not in VLAN 20"

say "a wrong PKEX code does not onboard the device"
lab_start_sta wlan2
tj onboard --pkex "right-code-123" --name wrong --timeout 25s > "$LAB_OUT/pkex-wrong.log" 2>&1 &
onboard=$!
lab_wait 30 grep -q 'waiting for the device' "$LAB_OUT/pkex-wrong.log" ||
	{ cat "$LAB_OUT/pkex-wrong.log"; fail "the router never waited for the device with its code"; }
own=$(lab_wpa_cli wlan2 dpp_bootstrap_gen type=pkex | tail -1)
lab_wpa_cli wlan2 dpp_pkex_add own="$own" init=1 role=enrollee code="wrong-code-456" >/dev/null
wait $onboard && fail "a wrong PKEX code onboarded a device"
cat "$LAB_OUT/pkex-wrong.log"
grep -q 'the code did not match' "$LAB_OUT/pkex-wrong.log" || fail "the wrong code was not reported as such"
lab_sta_connected wlan2 && fail "device with the wrong code is connected"
lab_wpa_cli wlan2 dpp_pkex_remove "*" >/dev/null 2>&1 || true

say "a camera pre-authorised by its URI (as an ISP would push it) onboards by chirping, untouched"
mac2=$(lab_mac wlan2 | tr -d :)
bid=$(lab_wpa_cli wlan2 dpp_bootstrap_gen type=qrcode chan=81/6 mac="$mac2" | tail -1)
uri=$(lab_wpa_cli wlan2 dpp_bootstrap_get_uri "$bid" | tail -1)
tj preauth add "$uri" --segment guest --name "isp-camera" || fail "pre-authorisation refused"
tj preauth list
lab_wait 10 grep -q 'listening for pre-authorised devices' "$LAB_OUT/trustjoin.log" || fail "trustjoin does not listen for chirps"
lab_wpa_cli wlan2 dpp_chirp own="$bid" iter=10 >/dev/null
lab_wait 60 lab_sta_connected wlan2 || fail "pre-authorised camera did not onboard by chirping"
lab_log_wait 10 "$LAB_OUT/hostapd.log" "Assigned VLAN ID 30 from wpa_psk_file to $(lab_mac wlan2)" || fail "camera not in its target segment's VLAN 30"
cam_connected() { tj device isp-camera | grep -q 'state: connected'; }
lab_wait 10 cam_connected || fail "registry does not show the camera connected"

say "no secret in trustjoin's log"
secrets=$(grep keyid= "$psk" | awk '{print $NF}')
[ "$(echo "$secrets" | wc -l)" -ge 2 ] || fail "expected the plug's and the camera's lines in the PSK file"
for s in $secrets; do
	lab_no_secret "$s" "$LAB_OUT/trustjoin.log"
	# conf=sta-psk: PSKs derived by trustjoin, nothing for hostapd to derive.
	echo "$s" | grep -Eqx '[0-9a-f]{64}' || fail "a PSK file line holds no derived PSK"
done
grep -q DPP-CONFOBJ-PSK "$LAB_OUT/wpa_supplicant-wlan2.log" || fail "the chirping camera was not given the PSK over DPP"
lab_no_secret "$code" "$LAB_OUT/trustjoin.log"
say "pkex-chirp: OK"
