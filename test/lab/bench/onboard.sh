#!/bin/bash
# lab: radios=2 timeout=1200
# Benchmark: time from an onboarding request to the device connected,
# through trustjoin, against the same steps driven directly with hostapd_cli
# (write the PSK line, reload, DPP_QR_CODE, DPP_AUTH_INIT, wait for the
# station), in the same run, alternating, for 1 and for 5 devices in a row.
. "$LAB_SRC/test/lab/lib.sh"
set -u
ROUNDS=${BENCH_ROUNDS:-3}

# The router as every scenario has it (lab_router: OpenWrt's stack, the
# hostapd of LAB_HOSTAPD), trustjoin attached to its access point.
lab_router "	option timeout '120'"
lab_start_sta wlan1
mac=$(lab_mac wlan1 | tr -d :)
cfg=$(lab_hostapd_cli raw DPP_CONFIGURATOR_ADD | tail -1)
ssidhex=$(printf '%s' "$LAB_SSID" | od -An -tx1 | tr -d ' \n')

now() { date +%s.%N; }
tj_attached() { ! tj status | grep -q 'hostapd does not answer'; }
fresh_device() {
	lab_wpa_cli wlan1 remove_network all >/dev/null
	lab_wpa_cli wlan1 dpp_bootstrap_remove '*' >/dev/null
	lab_wait 10 sh -c "! wpa_cli -p /var/run/wpa_supplicant -i wlan1 status | grep -q wpa_state=COMPLETED"
	# OpenWrt's hostapd, busy removing the last device's interfaces, can
	# miss trustjoin's PING for a moment and trustjoin reconnects (seen:
	# a request then refused as "not up"): both ways start from an access
	# point trustjoin is attached to.
	lab_wait 60 tj_attached || fail "trustjoin is not attached to $LAB_AP"
	local id
	id=$(lab_wpa_cli wlan1 dpp_bootstrap_gen type=qrcode chan=81/6 mac="$mac" | tail -1)
	lab_wpa_cli wlan1 dpp_listen 2437 >/dev/null
	lab_wpa_cli wlan1 dpp_bootstrap_get_uri "$id" | tail -1
}
direct() { # URI N
	local uri=$1 n=$2 pass peer
	pass=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	echo "keyid=bench$n vlanid=20 00:00:00:00:00:00 $pass" >> "$psk"
	lab_hostapd_cli raw RELOAD_WPA_PSK >/dev/null
	peer=$(lab_hostapd_cli raw "DPP_QR_CODE $uri" | tail -1)
	lab_hostapd_cli raw "DPP_AUTH_INIT peer=$peer configurator=$cfg conf=sta-psk ssid=$ssidhex pass=$(printf '%s' "$pass" | od -An -tx1 | tr -d ' \n')" >/dev/null
	lab_wait 60 lab_sta_connected wlan1
}
viatj() { tj onboard --qr "$1" >/dev/null; }

# run METHOD DEVICES: sets TOTAL to the seconds taken; a failure ends the
# benchmark (not swallowed in a subshell).
run() {
	local method=$1 count=$2 i uri t0 t1
	TOTAL=0
	for i in $(seq 1 "$count"); do
		uri=$(fresh_device)
		t0=$(now)
		"$method" "$uri" "$RANDOM" || fail "$method onboarding failed (device $i of $count)"
		t1=$(now)
		TOTAL=$(echo "$TOTAL + $t1 - $t0" | bc -l)
	done
}

: > "$LAB_OUT/bench.txt"
for n in 1 5; do
	d=0; t=0
	for r in $(seq 1 "$ROUNDS"); do
		run direct "$n"; d=$(echo "$d + $TOTAL" | bc -l)
		run viatj "$n"; t=$(echo "$t + $TOTAL" | bc -l)
	done
	printf 'BENCH onboard (%s hostapd) %d device(s) in a row: hostapd_cli %.2f s, trustjoin %.2f s, ratio %.3f (mean of %d rounds)\n' \
		"$LAB_HOSTAPD" "$n" "$(echo "$d / $ROUNDS" | bc -l)" "$(echo "$t / $ROUNDS" | bc -l)" "$(echo "$t / $d" | bc -l)" "$ROUNDS" | tee -a "$LAB_OUT/bench.txt"
done
