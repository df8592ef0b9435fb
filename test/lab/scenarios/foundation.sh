#!/bin/bash
# lab: radios=3 timeout=240
# The chain every later scenario relies on: hostapd serving an access point
# with per-device PSKs and dynamic VLANs, a device (wpa_supplicant) that
# connects with its own passphrase and lands in its VLAN, the trustjoin
# daemon up and ready, and hostapd's DPP support as trustjoin will use it.
. "$LAB_SRC/test/lab/lib.sh"
set -u

psk=/tmp/ap.psk
dev_mac=$(lab_mac wlan1)
dev_pass="per-device-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

say "hostapd on wlan0 with a per-device PSK line for $dev_mac in VLAN 10"
echo "keyid=dev1 vlanid=10 $dev_mac $dev_pass" > "$psk"
lab_start_ap wlan0 6 "$psk"

say "hostapd DPP capability"
cap=$(lab_hostapd_cli raw GET_CAPABILITY dpp)
echo "GET_CAPABILITY dpp: $cap"
case "$cap" in
DPP=*) ;;
*) fail "hostapd does not report DPP support: $cap" ;;
esac

say "trustjoin daemon"
lab_write_config /tmp/tj.uci
lab_start_trustjoin /tmp/tj.uci
"$TJ_BIN" version
grep -q 'msg="found access point" iface=wlan0 nl80211=true' "$LAB_OUT/trustjoin.log" ||
	fail "trustjoin did not find the access point through hostapd and nl80211"

say "device on wlan1 connects with its own passphrase"
lab_start_sta wlan1
lab_connect_psk wlan1 "$dev_pass"
lab_wait 60 lab_sta_connected wlan1 || fail "device did not connect"
lab_wait 10 grep -q "AP-STA-CONNECTED $dev_mac keyid=dev1" "$LAB_OUT/hostapd.log" ||
	fail "hostapd did not report the device's own key id"
grep -q "Assigned VLAN ID 10 from wpa_psk_file to $dev_mac" "$LAB_OUT/hostapd.log" || fail "hostapd did not assign VLAN 10"
# per_sta_vif: the device has an interface of its own, a port of VLAN 10's bridge.
in_brvlan10() { bridge link show | grep -q "master brvlan10"; }
lab_wait 10 in_brvlan10 || fail "no interface of the device in bridge brvlan10"
bridge link show
sta=$(lab_hostapd_cli sta "$dev_mac")
echo "$sta" | grep -E "^(vlan_id|keyid|flags)="
echo "$sta" | grep -qx 'keyid=dev1' || fail "hostapd's STA $dev_mac does not say keyid=dev1"

say "a device with a wrong passphrase is refused"
lab_start_sta wlan2
wrong=$(lab_mac wlan2)
lab_connect_psk wlan2 "not-the-household-password"
lab_wait 30 grep -q "AP-STA-POSSIBLE-PSK-MISMATCH $wrong" "$LAB_OUT/hostapd.log" ||
	fail "hostapd did not refuse a wrong passphrase"
lab_sta_connected wlan2 && fail "a device with a wrong passphrase connected"
lab_wpa_cli wlan2 remove_network all >/dev/null

say "a device on the shared household password is unaffected"
lab_connect_psk wlan2 "$LAB_HOUSEHOLD_PASS"
lab_wait 60 lab_sta_connected wlan2 || fail "household device did not connect"
hh=$(lab_hostapd_cli sta "$wrong")
echo "$hh" | grep -E "^(vlan_id|keyid|flags)="
grep -q "VLAN ID [0-9]* from wpa_psk_file to $wrong" "$LAB_OUT/hostapd.log" && fail "the household device was put in a VLAN"
[ "$(bridge link show | grep -c 'master brvlan')" = 1 ] || fail "the household device's interface joined a VLAN bridge"

say "no secret in trustjoin's log"
lab_no_secret "$dev_pass" "$LAB_OUT/trustjoin.log"
lab_no_secret "$LAB_HOUSEHOLD_PASS" "$LAB_OUT/trustjoin.log"

kill "$(cat "$LAB_OUT/trustjoin.pid")"
lab_wait 10 grep -q 'msg=stopped' "$LAB_OUT/trustjoin.log" || fail "trustjoin did not stop cleanly on SIGTERM"
say "foundation: OK"
