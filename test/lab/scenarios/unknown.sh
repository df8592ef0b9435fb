#!/bin/bash
# lab: radios=3 timeout=360
# Asset management (NIST IR 8350 §7): a device on the household's shared
# password is one nobody onboarded; trustjoin lists it as unknown, says so
# as a security event, and forgets it once it is onboarded properly. A
# second one, blocked by the householder, is cut off and refused until the
# block is lifted.
. "$LAB_SRC/test/lab/lib.sh"
set -u

lab_router "config watch 'watch'" "	option scan_interval '1'"

say "a phone on wlan1 joins with the shared password"
# Each device is a host of its own (a network namespace): the router's own
# interfaces are never listed.
lab_start_sta wlan1 phone
mac=$(lab_mac wlan1 phone)
lab_connect_psk wlan1 "$LAB_HOUSEHOLD_PASS"
lab_wait 60 lab_sta_connected wlan1 || fail "the phone did not connect with the shared password"

say "trustjoin lists it as unknown: on the shared password"
listed() { tj unknown --json | python3 -c '
import json, sys
u = [d for d in json.load(sys.stdin)["unknown"] if d["mac"] == sys.argv[1]]
sys.exit(0 if u and u[0]["kind"] == sys.argv[2] and "nl80211" in u[0]["seen_by"] else 1)' "$mac" "$1"; }
lab_wait 30 listed shared-password || { tj unknown; fail "the phone on the shared password is not listed as unknown"; }
tj unknown | tee -a "$LAB_OUT/cli.log"
tj unknown | grep -q "$mac  shared password  $LAB_AP" || fail "the table does not say it is on the shared password"

say "and it is a security event, in the log and for trustjoin events"
tj events | tee -a "$LAB_OUT/cli.log" | grep -q "unknown-device: $mac is on Wi-Fi ($LAB_AP) with the shared password" ||
	fail "no security event for the unknown device"
grep -q "security event: $mac is on Wi-Fi ($LAB_AP) with the shared password" "$LAB_OUT/trustjoin.log" ||
	fail "the security event is not in the log"

say "onboarded properly (its QR code), it gets a credential of its own and leaves the list"
# Put in pairing mode, the phone leaves the network but keeps its
# shared-password network, preferring the one it will be given (like a
# device that uses the network it was given last). One that stayed
# associated, with management frame protection as here, could not be
# configured: wpa_supplicant 2.10 fails to send its configuration request
# protected (GAS-QUERY-DONE result=INTERNAL_ERROR right after
# DPP-AUTH-SUCCESS), and the onboarding timed out.
lab_wpa_cli wlan1 -- set_network 0 priority -1 | grep -q OK || fail "could not lower the shared network's priority"
lab_wpa_cli wlan1 disconnect >/dev/null
lab_wait 20 grep -q "AP-STA-DISCONNECTED $mac" "$LAB_OUT/hostapd.log" || fail "the phone did not leave the network"
uri=$(lab_dpp_qr wlan1 phone)
tj onboard --qr "$uri" --name phone --segment guest || fail "onboarding the phone failed"
own_key() { [ -n "$(keyid_of "$mac")" ]; }
lab_wait 60 own_key || fail "the phone did not connect with a credential of its own"
lab_wait 60 lab_sta_connected wlan1 || fail "the phone is not connected"
gone() { ! tj unknown --json | grep -q "\"$mac\""; }
lab_wait 30 gone || { tj unknown; fail "the onboarded phone is still listed as unknown"; }
tj unknown | tee -a "$LAB_OUT/cli.log"

say "another device on the shared password is blocked: cut off, and refused"
lab_start_sta wlan2 other
mac2=$(lab_mac wlan2 other)
lab_connect_psk wlan2 "$LAB_HOUSEHOLD_PASS"
lab_wait 60 lab_sta_connected wlan2 || fail "the second device did not connect"
listed2() { tj unknown --json | grep -q "\"$mac2\""; }
lab_wait 30 listed2 || fail "the second device is not listed"
tj unknown block "$mac2" | tee -a "$LAB_OUT/cli.log" || fail "blocking failed"
lab_wait 20 grep -q "AP-STA-DISCONNECTED $mac2" "$LAB_OUT/hostapd.log" || fail "the blocked device was not disconnected"
# It keeps trying: two more attempts, and it is not let in.
tries=$(grep -c "SME: Trying to authenticate" "$LAB_OUT/wpa_supplicant-wlan2.log")
retried() { [ "$(grep -c "SME: Trying to authenticate" "$LAB_OUT/wpa_supplicant-wlan2.log")" -ge $((tries + 2)) ]; }
lab_wait 60 retried || fail "the blocked device did not try to connect again"
lab_sta_connected wlan2 && fail "the blocked device connected again"
[ "$(grep -c "AP-STA-CONNECTED $mac2" "$LAB_OUT/hostapd.log")" -eq 1 ] || fail "the blocked device was let in again"
tj unknown | tee -a "$LAB_OUT/cli.log" | grep -q "$mac2: blocked since" || fail "the list does not show the block"
say "the block lifted, it connects again"
tj unknown clear "$mac2" | tee -a "$LAB_OUT/cli.log" || fail "lifting the block failed"
# Refused again and again, wpa_supplicant has set the network aside for a
# while (CTRL-EVENT-SSID-TEMP-DISABLED): enabled again, it tries at once.
lab_wpa_cli wlan2 enable_network all >/dev/null
lab_wpa_cli wlan2 reconnect >/dev/null
lab_wait 60 lab_sta_connected wlan2 || fail "the device did not connect once the block was lifted"
say "the list holds only what nobody onboarded"
