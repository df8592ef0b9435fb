#!/bin/bash
# lab: radios=4 timeout=480
# A router whose hostapd is OpenWrt's basic variant (hostapd-basic-openssl,
# built from OpenWrt's hostapd-basic.config: no Wi-Fi Easy Connect, no
# CONFIG_FULL_DYNAMIC_VLAN), as on a stock image that has not had
# wpad-openssl put in. trustjoin installs without per_sta_vif (this hostapd
# would give every station an interface of its own and never bridge it: the
# household's devices would associate and reach nothing), so a laptop on the
# shared password reaches the router. The householder is told what is wrong
# and what to do: the status (and the API's hostapd field) names the
# package, that devices would not reach their segments and the commands that
# fix it, the radio says it has no DPP with the same fix, and adding a device
# by its QR code is refused with the reason. What the missing dynamic VLANs
# mean: a device with a PSK line of its own (VLAN 10) is given its VLAN by
# hostapd, but its interface is never put in the segment's bridge. Then the
# householder follows the fix: the full hostapd replaces the basic one, and
# trustjoin sets per_sta_vif and reloads Wi-Fi by itself; the device is then
# bridged into its segment and the laptop still reaches the router.
. "$LAB_SRC/test/lab/lib.sh"
set -u

LAB_HOSTAPD=openwrt-basic
dev_pass=device-own-pass-$RANDOM
lab_router --no-wait --psk-line "keyid=dev1 vlanid=10 00:00:00:00:00:00 $dev_pass"

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
# The fix names the package that is there, not the stock one; the radio's
# says the same.
fix="  fix: install a full hostapd variant: opkg remove hostapd-basic-openssl && opkg install hostapd-openssl; trustjoin then sets per_sta_vif on its access points and reloads Wi-Fi"
grep -qxF -- "$fix" "$LAB_OUT/status.txt" || fail "the status gives no fix for the basic hostapd"
grep -q "radio $LAB_AP: .*NO DPP" "$LAB_OUT/status.txt" || fail "the status does not say the radio has no DPP"
sed -n "/^radio $LAB_AP:/,/^[^ ]/p" "$LAB_OUT/status.txt" | grep -qxF -- "$fix" ||
	fail "the radio's fix does not name the installed hostapd-basic-openssl"
tj status --json > "$LAB_OUT/status.json"
jq -e '.hostapd.package == "hostapd-basic-openssl" and (.hostapd.problem | test("no dynamic VLANs"))' "$LAB_OUT/status.json" >/dev/null ||
	fail "the API's hostapd field does not name the basic build (status.json)"

say "adding a device by its QR code is refused with the reason"
lab_start_sta wlan1
uri=$(lab_dpp_qr wlan1)
out=$(tj onboard --qr "$uri" --name camera 2>&1) && fail "onboarding on a hostapd without DPP succeeded: $out"
echo "$out" | tee -a "$LAB_OUT/cli.log"
echo "$out" | grep -q "has no Wi-Fi Easy Connect (DPP): install wpad-openssl or wpad-mbedtls" || fail "unclear refusal: $out"
[ "$(grep -c . "$psk")" = 1 ] || fail "a credential was written although onboarding was refused: $(grep -vc keyid=dev1 "$psk") new line(s)"

say "the household's Wi-Fi keeps working with the shared password: a laptop reaches the router"
# With per_sta_vif this hostapd would give the laptop an interface of its
# own and never bridge it: associated, and cut off. The install leaves it
# out on a basic hostapd.
lan_ip=$(ip -4 -o addr show br-lan | awk '{print $4}' | cut -d/ -f1 | head -1)
[ -n "$lan_ip" ] || fail "the router's br-lan has no IPv4 address"
lab_start_sta wlan3 hh
lab_connect_psk wlan3 "$LAB_HOUSEHOLD_PASS"
lab_wait 60 lab_sta_connected wlan3 || fail "a household device could not connect to the basic hostapd"
ip -n hh addr add "${lan_ip%.*}.50/24" dev wlan3
lab_wait 20 ip netns exec hh busybox ping -c 1 -W 1 "$lan_ip" || { bridge link show; fail "the household laptop cannot reach the router ($lan_ip)"; }
grep -q '^per_sta_vif=1' "$LAB_OUT/hostapd-phy0.conf" && fail "per_sta_vif is on with the basic hostapd"
grep -q 'no per_sta_vif on a basic hostapd' "$LAB_OUT/opkg.log" || fail "the install did not say it left per_sta_vif out"

say "a device with its own passphrase and VLAN 10 connects, but is not put in the segment"
lab_start_sta wlan2
dev_mac=$(lab_mac wlan2)
lab_connect_psk wlan2 "$dev_pass"
lab_wait 60 lab_sta_connected wlan2 || fail "the device with its own passphrase could not connect"
lab_log_wait 20 "$LAB_OUT/hostapd.log" "Assigned VLAN ID 10 from wpa_psk_file to $dev_mac" ||
	fail "hostapd did not give the device VLAN 10"
# On the full build hostapd makes brvlan10 and bridges the device's
# interface into it before the device is let in (vlan_add_dynamic, before
# AP-STA-CONNECTED; foundation.sh sees it there).
lab_log_wait 20 "$LAB_OUT/hostapd.log" "AP-STA-CONNECTED $dev_mac keyid=dev1" ||
	fail "hostapd did not report the device's own key id"
bridge link show | grep "master brvlan10" && fail "the basic build bridged the device into its segment: the status would be wrong"
ip -br link | tee "$LAB_OUT/links.txt"
bridge link show | tee "$LAB_OUT/bridges.txt"

say "the householder puts in the full hostapd: trustjoin sets per_sta_vif and reloads Wi-Fi by itself"
# What `opkg remove hostapd-basic-openssl && opkg install hostapd-openssl`
# does on a router: the basic package's prerm stops wpad.init's hostapd,
# its files go, the full one's come and its postinst starts hostapd again.
# Here the full binary is in the root already (under the basic one's bind
# mount) and the two packages are stand-ins in opkg's database with the
# real names and no files: the rest is opkg's, procd's, netifd's, the wifi
# scripts' and trustjoin's.
pkg=$(mktemp -d)
mkdir "$pkg/control" "$pkg/data"
printf 'Package: hostapd-openssl\nVersion: 1\nArchitecture: x86_64\nProvides: hostapd\nConflicts: hostapd-basic-openssl\nDescription: stand-in\n' > "$pkg/control/control"
(cd "$pkg/control" && tar -czf ../control.tar.gz ./control) && (cd "$pkg/data" && tar -czf ../data.tar.gz .) &&
	echo 2.0 > "$pkg/debian-binary" &&
	(cd "$pkg" && tar -czf /tmp/lab-hostapd-openssl.ipk ./debian-binary ./control.tar.gz ./data.tar.gz) ||
	fail "could not make the hostapd-openssl stand-in package"
owrt /etc/init.d/wpad stop
owrt_wait 30 sh -c '! ubus list hostapd' || fail "hostapd did not stop"
umount -l "$OWRT/usr/sbin/wpad" || fail "could not take the basic hostapd away"
{ owrt opkg remove hostapd-basic-openssl && owrt opkg install /tmp/lab-hostapd-openssl.ipk; } >> "$LAB_OUT/opkg.log" 2>&1 ||
	{ cat "$LAB_OUT/opkg.log"; fail "opkg could not swap the hostapd packages"; }
owrt /etc/init.d/wpad start
lab_log_wait 60 "$LAB_OUT/trustjoin.log" "per_sta_vif set" || { tail -n 20 "$LAB_OUT/trustjoin.log"; fail "trustjoin did not set per_sta_vif for the full hostapd"; }
[ "$(owrt uci -q get wireless.default_radio0.per_sta_vif)" = 1 ] || fail "per_sta_vif is not in /etc/config/wireless"
psv_on() { grep -q '^per_sta_vif=1' /tmp/run/hostapd-phy0.conf; }
lab_wait 60 psv_on || { tail -n 30 "$LAB_OUT/netifd.log"; fail "netifd did not hand hostapd a configuration with per_sta_vif (no wifi reload?)"; }
cp /tmp/run/hostapd-phy0.conf "$LAB_OUT/hostapd-phy0-full.conf"
owrt_ap_up "$LAB_AP"
dpp_on() { tj status | grep -q "radio $LAB_AP: .*DPP version"; }
lab_wait 60 dpp_on || { tj status; fail "the status still says the radio has no DPP"; }
tj status | grep -q 'no dynamic VLANs' && fail "the status still warns about the basic hostapd"
tj status | tee -a "$LAB_OUT/cli.log" > "$LAB_OUT/status-full.txt"

say "the device is now bridged into its segment, and the laptop still reaches the router"
lab_wait 90 lab_sta_connected wlan2 || fail "the device did not reconnect after the Wi-Fi reload"
in_brvlan10() { bridge link show | grep -q "master brvlan10"; }
lab_wait 30 in_brvlan10 || { bridge link show; fail "the device's interface is not in brvlan10 with the full hostapd"; }
bridge link show | tee "$LAB_OUT/bridges-full.txt"
lab_wait 90 lab_sta_connected wlan3 || fail "the laptop did not reconnect after the Wi-Fi reload"
lab_wait 30 ip netns exec hh busybox ping -c 1 -W 1 "$lan_ip" || { bridge link show; fail "the household laptop cannot reach the router with the full hostapd"; }
say "basic: OK"
