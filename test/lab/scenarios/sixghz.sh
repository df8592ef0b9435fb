#!/bin/bash
# lab: radios=2 timeout=480
# A 6 GHz access point. Wi-Fi on 6 GHz allows only WPA3-SAE: OpenWrt's
# generator turns the householder's WPA2/WPA3 mixed (sae-mixed) into SAE
# alone there and hostapd refuses WPA-PSK on 6 GHz, while hostapd checks
# the lines of trustjoin's PSK file only for WPA-PSK. So a per-device
# passphrase could never work on such an access point: trustjoin gives
# none there, says so in its status (per radio, as the API and LuCI show
# it) and refuses to add a device there with the reason; the household's
# password keeps working over SAE. Then WPA2-PSK alone (psk2) on 6 GHz:
# hostapd refuses it and the access point does not come up, which the
# status says too.
. "$LAB_SRC/test/lab/lib.sh"
set -u

# The householder's radio on 6 GHz (channel 5, 5975 MHz), WPA2/WPA3 mixed
# as LuCI offers for the other bands (lab_router --sae).
LAB_BAND=6g LAB_CHANNEL=5 LAB_HTMODE=HE20

say "the VM's radio offers 6 GHz"
iw phy phy0 info > "$LAB_OUT/iw-phy0.log" 2>&1
grep -q '5975\(\.0\)\? MHz' "$LAB_OUT/iw-phy0.log" || fail "mac80211_hwsim offers no 6 GHz channel 5 (iw-phy0.log)"

# down: trustjoin's status says hostapd does not answer on the access point.
down() { tj status | grep -q '^  problem: hostapd does not answer on this access point'; }

if [ "$LAB_RELEASE" != main ]; then
	# 24.10's and 23.05's hostapd.sh make management frame protection
	# optional (ieee80211w=1) for WPA2/WPA3 mixed on every band, and hostapd
	# refuses that on 6 GHz: there the access point never comes up, and
	# trustjoin says it is down. (An access point set to WPA3 alone is
	# not trustjoin's: its install takes only WPA2 and mixed ones.)
	lab_router --sae --ap-down
	say "$LAB_RELEASE's generator makes protection optional on 6 GHz; hostapd refuses it"
	lab_log_wait 180 "$LAB_OUT/hostapd.log" 'Management frame protection is required in 6 GHz' ||
		{ tail -n 20 "$LAB_OUT/hostapd.log"; fail "hostapd did not refuse $LAB_RELEASE's sae-mixed on 6 GHz"; }
	cp /tmp/run/hostapd-phy0.conf "$LAB_OUT/hostapd-phy0.conf" 2>/dev/null
	grep -qx 'ieee80211w=1' "$LAB_OUT/hostapd-phy0.conf" || fail "the generator did not write ieee80211w=1 (hostapd-phy0.conf)"
	lab_wait 90 down || { tj status; fail "the status does not say the access point is down"; }
	tj status | tee -a "$LAB_OUT/cli.log"
	say "sixghz: OK"
	exit 0
fi
lab_router --sae --no-wait
conf=$LAB_OUT/hostapd-phy0.conf
[ -s "$conf" ] || fail "no hostapd configuration from OpenWrt's scripts"

say "what OpenWrt's generator wrote for the 6 GHz access point"
grep -E '^(op_class|channel|ieee80211w|wpa_key_mgmt|sae_pwe|wpa_psk_file|sae_password_file|dynamic_vlan|vlan_file|vlan_bridge|per_sta_vif)=' "$conf" |
	tee "$LAB_OUT/generated-6g.txt"
grep -q '^wpa_key_mgmt=.*SAE' "$conf" || fail "the generator did not configure SAE on 6 GHz"
grep -q '^wpa_key_mgmt=.*PSK' "$conf" && fail "the generator configured WPA-PSK on 6 GHz"

say "hostapd offers SAE alone on 5975 MHz"
lab_hostapd_cli get_config | tee "$LAB_OUT/get-config.txt"
grep -q '^key_mgmt=.*SAE' "$LAB_OUT/get-config.txt" || fail "hostapd does not offer SAE"
grep -q '^key_mgmt=.*PSK' "$LAB_OUT/get-config.txt" && fail "hostapd offers WPA-PSK on 6 GHz"
lab_hostapd_cli status | grep -qx 'freq=5975' || fail "the access point is not on 5975 MHz"

say "trustjoin tells the householder, in its log, status and API"
lab_log_wait 60 "$LAB_OUT/trustjoin.log" 'a 6 GHz access point allows only WPA3-SAE' ||
	fail "trustjoin did not say that the 6 GHz access point cannot take devices"
tj status | tee -a "$LAB_OUT/cli.log" > "$LAB_OUT/status.txt"
grep -q "^radio $LAB_AP: .*5975 MHz" "$LAB_OUT/status.txt" || fail "the status does not show the 6 GHz radio"
grep -q '^  problem: a 6 GHz access point allows only WPA3-SAE' "$LAB_OUT/status.txt" || fail "the status does not say why"
grep -q '^  fix: add devices on the 2.4 or 5 GHz access point' "$LAB_OUT/status.txt" || fail "the status gives no fix"
tj status --json > "$LAB_OUT/status.json"
jq -e --arg ap "$LAB_AP" '.radios[] | select(.ifname == $ap) | .problem | test("6 GHz")' "$LAB_OUT/status.json" >/dev/null ||
	fail "the API's radio has no problem for 6 GHz (status.json)"

say "adding a device there is refused with the reason; no passphrase is handed out"
lab_start_sta wlan1
uri=$(lab_dpp_qr wlan1)
out=$(tj onboard --qr "$uri" --name camera 2>&1) && fail "onboarding on the 6 GHz access point succeeded: $out"
echo "$out" | tee -a "$LAB_OUT/cli.log"
echo "$out" | grep -q "cannot take a device of its own: a 6 GHz access point allows only WPA3-SAE" || fail "unclear refusal: $out"
[ -s "$psk" ] && fail "a credential was written although onboarding was refused: $(cat "$psk")"
grep -q 'DPP_AUTH_INIT\|DPP-AUTH' "$LAB_OUT/hostapd.log" && fail "a DPP exchange reached hostapd"

say "the household's password works over SAE"
lab_wpa_cli wlan1 dpp_stop_listen >/dev/null
lab_wpa_cli wlan1 set sae_pwe 1 >/dev/null
id=$(lab_wpa_cli wlan1 add_network | tail -1)
lab_wpa_cli wlan1 set_network "$id" ssid "\"$LAB_SSID\"" >/dev/null
lab_wpa_cli wlan1 set_network "$id" sae_password "\"$LAB_HOUSEHOLD_PASS\"" >/dev/null
lab_wpa_cli wlan1 set_network "$id" key_mgmt SAE >/dev/null
lab_wpa_cli wlan1 set_network "$id" ieee80211w 2 >/dev/null
lab_wpa_cli wlan1 set_network "$id" scan_freq 5975 >/dev/null
lab_wpa_cli wlan1 enable_network "$id" >/dev/null
lab_wait 90 lab_sta_connected wlan1 || { lab_wpa_cli wlan1 status; fail "a household device could not join the 6 GHz access point with SAE"; }

say "WPA2-PSK alone on 6 GHz: hostapd refuses it, trustjoin says the access point is down"
lab_wpa_cli wlan1 disconnect >/dev/null
owrt uci set wireless.default_radio0.encryption='psk2'
owrt uci commit wireless
owrt wifi reload
lab_log_wait 90 "$LAB_OUT/hostapd.log" 'in 6 GHz\|for 6 GHz' ||
	{ tail -n 20 "$LAB_OUT/hostapd.log"; fail "hostapd did not refuse WPA2-PSK on 6 GHz"; }
grep -m3 '6 GHz' "$LAB_OUT/hostapd.log"
cp /tmp/run/hostapd-phy0.conf "$LAB_OUT/hostapd-phy0-psk2.conf" 2>/dev/null
lab_wait 60 down || { tj status; fail "the status does not say the access point is down"; }
tj status | tee -a "$LAB_OUT/cli.log"
say "sixghz: OK"
