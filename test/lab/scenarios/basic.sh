#!/bin/bash
# lab: radios=2 timeout=360
# A router whose hostapd is OpenWrt's basic variant (hostapd-basic-openssl,
# built from OpenWrt's hostapd-basic.config: no Wi-Fi Easy Connect, no
# CONFIG_FULL_DYNAMIC_VLAN), as on an image that has not had wpad-openssl
# put in: trustjoin installs, the household's Wi-Fi keeps working with the
# shared password, and the householder is told what is wrong and what to
# do: the status names the package, that devices would not reach their
# segments and the command that fixes it, the radio says it has no DPP, and
# adding a device by its QR code is refused with the reason.
. "$LAB_SRC/test/lab/lib.sh"
set -u

LAB_HOSTAPD=openwrt-basic
lab_router --no-wait

say "trustjoin finds hostapd has no Wi-Fi Easy Connect"
lab_log_wait 60 "$LAB_OUT/trustjoin.log" 'this hostapd has no Wi-Fi Easy Connect' ||
	fail "trustjoin did not say that the basic hostapd has no DPP"
cap=$(lab_hostapd_cli raw GET_CAPABILITY dpp)
echo "GET_CAPABILITY dpp: $cap"
case "$cap" in DPP=*) fail "the basic hostapd reports DPP ($cap): not the basic build" ;; esac

say "trustjoin status tells the householder what is wrong and what to do"
has_problem() { tj status | grep -q 'hostapd: hostapd-basic-openssl has no dynamic VLANs'; }
lab_wait 20 has_problem || { tj status; fail "the status does not name the basic hostapd"; }
tj status | tee -a "$LAB_OUT/cli.log" > "$LAB_OUT/status.txt"
grep -qx '  fix: install a full hostapd variant: opkg remove hostapd-basic-openssl && opkg install hostapd-openssl' "$LAB_OUT/status.txt" ||
	fail "the status gives no fix for the basic hostapd"
grep -q "radio $LAB_AP: .*NO DPP" "$LAB_OUT/status.txt" || fail "the status does not say the radio has no DPP"

say "adding a device by its QR code is refused with the reason"
lab_start_sta wlan1
uri=$(lab_dpp_qr wlan1)
out=$(tj onboard --qr "$uri" --name camera 2>&1) && fail "onboarding on a hostapd without DPP succeeded: $out"
echo "$out" | tee -a "$LAB_OUT/cli.log"
echo "$out" | grep -q "has no Wi-Fi Easy Connect (DPP): install wpad-openssl or wpad-mbedtls" || fail "unclear refusal: $out"
[ -s "$psk" ] && fail "a credential was written although onboarding was refused: $(cat "$psk")"

say "the household's Wi-Fi keeps working with the shared password"
lab_wpa_cli wlan1 dpp_stop_listen >/dev/null
lab_connect_psk wlan1 "$LAB_HOUSEHOLD_PASS"
lab_wait 60 lab_sta_connected wlan1 || fail "a household device could not connect to the basic hostapd"
say "basic: OK"
