#!/bin/bash
# lab: radios=3 timeout=360
# The authorisation hook is asked before a pre-authorised device is
# listened for: one it refuses gets no line and is not answered when it
# chirps; one it allows onboards by chirping, in the segment it chose.
. "$LAB_SRC/test/lab/lib.sh"
set -u

hooks=/tmp/tj/hooks
mkdir -p "$hooks"
cat > "$hooks/authorize" <<'HOOK'
#!/bin/sh
in=$(cat)
echo "$in" >> /tmp/tj/hooks/asked.jsonl
case "$in" in
*'"name":"rogue-cam"'*) echo '{"decision":"deny","reason":"not on the attestation list"}' ;;
*'"name":"isp-camera"'*) echo '{"decision":"segment","segment":"guest","reason":"cameras go to guest"}' ;;
*) echo '{"decision":"allow"}' ;;
esac
HOOK
chmod 700 "$hooks/authorize"
lab_router "config authorize 'authorize'" "	option hook '$hooks/authorize'"

say "a camera the hook allows is pre-authorised, moved to guest"
lab_start_sta wlan1
mac1=$(lab_mac wlan1)
bid1=$(lab_wpa_cli wlan1 dpp_bootstrap_gen type=qrcode chan=81/6 mac="$(echo "$mac1" | tr -d :)" | tail -1)
uri1=$(lab_wpa_cli wlan1 dpp_bootstrap_get_uri "$bid1" | tail -1)
tj preauth add "$uri1" --segment iot --name isp-camera || fail "pre-authorisation refused"
grep -q '"via":"chirp"' "$hooks/asked.jsonl" || fail "the hook was not asked about a chirping device"
lab_wait 10 grep -q 'listening for pre-authorised devices' "$LAB_OUT/trustjoin.log" || fail "trustjoin does not listen for chirps"

say "a camera the hook refuses is not pre-authorised"
lab_start_sta wlan2
mac2=$(lab_mac wlan2)
bid2=$(lab_wpa_cli wlan2 dpp_bootstrap_gen type=qrcode chan=81/6 mac="$(echo "$mac2" | tr -d :)" | tail -1)
uri2=$(lab_wpa_cli wlan2 dpp_bootstrap_get_uri "$bid2" | tail -1)
out=$(tj preauth add "$uri2" --segment iot --name rogue-cam 2>&1) && fail "a refused camera was pre-authorised: $out"
echo "$out" | tee -a "$LAB_OUT/cli.log" | grep -q "not on the attestation list" || fail "the refusal does not give the hook's reason: $out"
tj preauth list | tee -a "$LAB_OUT/cli.log" | grep -q rogue-cam && fail "the refused camera is listed"
tj events | tee -a "$LAB_OUT/cli.log" | grep -q "hook-denied: the authorisation hook refused rogue-cam a credential: not on the attestation list" ||
	fail "no security event for the refusal"

say "it chirps: heard, not answered"
lab_wpa_cli wlan2 dpp_chirp own="$bid2" iter=2 >/dev/null
lab_wait 60 grep -q "DPP-CHIRP-RX id=-1 src=$mac2" "$LAB_OUT/hostapd.log" || fail "hostapd did not hear the refused camera chirp"
lab_wait 60 grep -q "DPP-CHIRP-STOPPED" "$LAB_OUT/wpa_supplicant-wlan2.log" || fail "the refused camera did not finish chirping"
grep -q "DPP-AUTH-SUCCESS" "$LAB_OUT/wpa_supplicant-wlan2.log" && fail "the refused camera was answered"
lab_sta_connected wlan2 && fail "the refused camera connected"

say "the allowed camera chirps and onboards, in guest"
lab_wpa_cli wlan1 dpp_chirp own="$bid1" iter=10 >/dev/null
lab_wait 60 lab_sta_connected wlan1 || fail "the allowed camera did not onboard by chirping"
grep -q "Assigned VLAN ID 30 from wpa_psk_file to $mac1" "$LAB_OUT/hostapd.log" || fail "the camera is not in guest's VLAN 30"
grep -qi 'passphrase\|"psk"' "$hooks/asked.jsonl" && fail "the hook was told a secret"
say "hook-chirp: OK"
