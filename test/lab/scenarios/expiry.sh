#!/bin/bash
# lab: radios=3 timeout=360
# Credential lifetimes (NIST SP 1800-36 S4.C7, S5.C3): a visitor's device
# onboarded into segment guest, whose credentials last a minute here, is
# warned of, then its credential is withdrawn exactly as `trustjoin
# remove` does: it can no longer connect. The device stays known as
# expired, and scanning it again lets it back in one step.
. "$LAB_SRC/test/lab/lib.sh"
set -u

lab_router \
	"config segment 'iot'" "	option vlan '20'" "	option internet '1'" \
	"config segment 'guest'" "	option vlan '30'" "	option internet '1'" "	option lifetime '60'" \
	"config segment 'quarantine'" "	option vlan '99'" "	option quarantine '1'"

say "a visitor's phone is onboarded into guest"
lab_start_sta wlan1
mac=$(lab_mac wlan1)
uri=$(lab_dpp_qr wlan1)
tj onboard --qr "$uri" --name visitor --segment guest || fail "onboarding failed"
lab_wait 60 lab_sta_connected wlan1 || fail "the visitor's phone did not connect"
key=$(keyid_of "$mac")
[ -n "$key" ] || fail "no key id of its own"
grep -q "keyid=$key " "$psk" || fail "its line is not in the PSK file"
first=$(grep "keyid=$key " "$psk" | awk '{print $NF}')
tj device visitor | tee -a "$LAB_OUT/cli.log" | grep -q "credential expires: " || fail "the device does not say when its credential expires"

say "the household is warned at once (the warning period is longer than the lifetime)"
warned() { tj events | grep -q 'credential-expiring: visitor'; }
lab_wait 20 warned ||
	fail "no warning before expiry"

say "at expiry the credential is withdrawn: its line goes and the phone is cut off"
expired() { tj events | grep -q "credential-expired: visitor's credential expired (its lifetime of 1m is over) and was withdrawn"; }
lab_wait 120 expired || { tj events; fail "the credential did not expire"; }
grep -q "keyid=$key " "$psk" && fail "the expired credential's line is still in the PSK file"
lab_wait 20 grep -q "AP-STA-DISCONNECTED $mac" "$LAB_OUT/hostapd.log" || fail "the phone was not disconnected"
tj device visitor | tee -a "$LAB_OUT/cli.log"
tj device visitor --json | grep -q '"state": "needs-reonboarding"' || fail "the registry does not keep the device as needing a new scan"
tj device visitor | grep -q "credential expired" || fail "its history does not say its credential expired"

say "it cannot reconnect with the old credential"
# Its retries since may have had wpa_supplicant set the network aside for a
# while (CTRL-EVENT-SSID-TEMP-DISABLED): enabled again, it tries at once.
lab_wpa_cli wlan1 enable_network all >/dev/null
lab_wpa_cli wlan1 reconnect >/dev/null
# Either side tells: hostapd finds no key for it, the phone's handshake
# fails. Under load the simulated radios lose frames (hostapd: "did not
# acknowledge authentication response") and the phone takes a while to
# try again.
refused() {
	grep -q "AP-STA-POSSIBLE-PSK-MISMATCH $mac" "$LAB_OUT/hostapd.log" ||
		grep -q "4-Way Handshake failed\|reason=WRONG_KEY" "$LAB_OUT/wpa_supplicant-wlan1.log"
}
lab_wait 120 refused || fail "hostapd did not refuse the expired credential"
lab_sta_connected wlan1 && fail "the phone connected with its expired credential"

say "scanned again, it is back in one step, with a fresh credential"
# Its own code again (the same bootstrapping key, so the same device), the
# phone listening for the router.
lab_wpa_cli wlan1 remove_network all >/dev/null
lab_wpa_cli wlan1 dpp_listen 2437 >/dev/null
connects=$(grep -c "AP-STA-CONNECTED $mac keyid=" "$LAB_OUT/hostapd.log")
tj onboard --qr "$uri" --segment guest || fail "onboarding again failed"
again() { [ "$(grep -c "AP-STA-CONNECTED $mac keyid=" "$LAB_OUT/hostapd.log")" -gt "$connects" ]; }
lab_wait 60 again || fail "the phone did not connect again"
# The old line went at expiry, so the device's key id may be the same; the
# secret is new.
now=$(grep "keyid=$(keyid_of "$mac") " "$psk" | awk '{print $NF}')
[ -n "$now" ] && [ "$now" != "$first" ] || fail "the phone did not connect with a fresh credential"
tj device visitor | tee -a "$LAB_OUT/cli.log" | grep -q "state: connected" || fail "the device is not the same, connected again"
