# The lab's router, sourced by lib.sh inside the lab VM: an OpenWrt root of
# $LAB_RELEASE (scripts/lab/openwrt-root.sh, read-only from the host) under
# a writable overlay, booted as far as the lab needs: ubusd, procd, netifd
# with the release's wifi scripts, hostapd ($LAB_HOSTAPD: OpenWrt's wpad
# under wpad.init, or Debian's 2.10 behind a stand-in of its ubus object),
# trustjoin installed from its .ipk by OpenWrt's opkg. The scenario runs
# beside it in the VM's Debian root: same network namespace, same /tmp
# (OpenWrt's /var is /tmp), so hostapd_cli and the devices' wpa_supplicant
# work as before. README: "Which parts of the lab are OpenWrt's".

OWRT=/run/owrt/root
# hostapd's control sockets, as seen from the Debian side.
LAB_CTRL=/tmp/run/hostapd

# owrt CMD...: run CMD on the router (its root, a router's environment).
owrt() { chroot "$OWRT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb "$@"; }

# owrt_wait SECONDS CMD...: lab_wait for a command on the router.
owrt_wait() { local t=$1; shift; lab_wait "$t" owrt "$@"; }

# owrt_mount: the root under a fresh overlay, with /proc, /sys, /dev and
# the VM's /tmp (with the lab's shares under it) mounted in.
owrt_mount() {
	[ -n "${LAB_OWRT_ROOT:-}" ] && [ -f "$LAB_OWRT_ROOT/etc/trustjoin-test-root" ] ||
		fail "no OpenWrt root for the lab (LAB_OWRT_ROOT='${LAB_OWRT_ROOT:-}')"
	modprobe -d "$LAB_KROOT" overlay || fail "no overlayfs in the lab kernel"
	mkdir -p /run/owrt/upper /run/owrt/work "$OWRT"
	mount -t overlay overlay -o "lowerdir=$LAB_OWRT_ROOT,upperdir=/run/owrt/upper,workdir=/run/owrt/work" "$OWRT" ||
		fail "cannot mount the OpenWrt root's overlay"
	mount -t proc proc "$OWRT/proc"
	mount --rbind /sys "$OWRT/sys"
	mount --rbind /dev "$OWRT/dev"
	mount --rbind /tmp "$OWRT/tmp"
	mkdir -p /tmp/run/ubus /tmp/lock /tmp/state /tmp/log /tmp/.uci
}

# owrt_hostapd: which hostapd the router runs. OpenWrt's is in the root
# already; Debian's binary is mounted over /usr/sbin/wpad (what the
# /usr/sbin/hostapd link and netifd's process check name), with the
# libraries the root lacks, and the stand-in of OpenWrt's ubus object is
# started by procd instead of wpad.init.
owrt_hostapd() {
	local f
	case "$LAB_HOSTAPD" in
	openwrt)
		# The package database as after the README's fix (the root lists
		# the stock wpad-basic-mbedtls): the full variant.
		sed -i 's/^Package: wpad-basic-mbedtls$/Package: wpad-openssl/' "$OWRT/usr/lib/opkg/status"
		;;
	openwrt-basic)
		# OpenWrt's basic variant, as a stock image has it (hostapd
		# alone here: the lab's devices bring their own supplicant).
		mount --bind "$OWRT/usr/sbin/hostapd-basic" "$OWRT/usr/sbin/wpad"
		# hostapd-basic-* has no wpa_supplicant: with the link left, the
		# wifi scripts wait for a supplicant's ubus object that never
		# comes and tear the radio down (seen: no access point).
		rm -f "$OWRT/usr/sbin/wpa_supplicant"
		sed -i 's/^Package: wpad-basic-mbedtls$/Package: hostapd-basic-openssl/' "$OWRT/usr/lib/opkg/status"
		;;
	debian)
		mount --bind /usr/sbin/hostapd "$OWRT/usr/sbin/wpad"
		# Debian's is hostapd alone, as OpenWrt's hostapd-* packages
		# (not wpad-*) are: no wpa_supplicant, so the wifi scripts do
		# not wait for its ubus object.
		rm -f "$OWRT/usr/sbin/wpa_supplicant"
		for f in $(ldd /usr/sbin/hostapd | awk '/=> \//{print $3}'); do
			[ -e "$OWRT$f" ] || install -D -m 0644 "$f" "$OWRT$f"
		done
		sed -i 's/^Package: wpad-basic-mbedtls$/Package: hostapd-debian-standin/' "$OWRT/usr/lib/opkg/status"
		install -D -m 0644 "$LAB_SRC/test/lab/openwrt/hostapd-debian.uc" "$OWRT/usr/share/lab/hostapd-debian.uc"
		cat > "$OWRT/etc/init.d/wpad" <<'INIT'
#!/bin/sh /etc/rc.common
# The lab's stand-in for wpad.init: OpenWrt's "hostapd" ubus object in
# front of Debian's hostapd (test/lab/openwrt/hostapd-debian.uc).
START=19
USE_PROCD=1
start_service() {
	mkdir -p /var/run/hostapd
	procd_open_instance hostapd
	procd_set_param command ucode /usr/share/lab/hostapd-debian.uc
	procd_set_param env LAB_HOSTAPD_LOG=/tmp/lab/out/hostapd.log LAB_HOSTAPD_DEBUG=$(cat /tmp/lab-hostapd-debug 2>/dev/null)
	procd_set_param respawn 3600 1 0
	procd_close_instance
}
INIT
		;;
	*) fail "LAB_HOSTAPD must be openwrt, openwrt-basic or debian, not '$LAB_HOSTAPD'" ;;
	esac
}

# owrt_boot: the router's boot as far as the lab needs it. The log of
# everything that goes to syslog: $LAB_OUT/syslog.log, and per program
# (hostapd.log, netifd.log, trustjoin.log, procd.log).
owrt_boot() {
	owrt_mount
	owrt_hostapd
	# 24.10's and 23.05's mac80211.sh ask iwinfo for the phy at the radio's
	# path; OpenWrt's iwinfo is not in the archives: the lab's stand-in.
	[ "$LAB_RELEASE" = main ] || install -D -m 0755 "$LAB_SRC/test/lab/openwrt/iwinfo" "$OWRT/usr/bin/iwinfo"
	# 24.10's and 23.05's shell handler run by main's ucode wireless glue,
	# which kills a handler still running after 30 s and sets the radio up
	# again (three times); 24.10's netifd (C) gave a setup all the time it
	# took. The shell handler can take 30 s and more in the emulated VM
	# under load (seconds on a router): the radio was set up again and
	# again, 30 s apart, hostapd restarted each time. As 24.10's netifd:
	# no limit short of the scenario's own.
	[ "$LAB_RELEASE" = main ] ||
		sed -i 's/^const DEFAULT_SCRIPT_TIMEOUT = 30 \* 1000;$/const DEFAULT_SCRIPT_TIMEOUT = 600 * 1000;/' "$OWRT/lib/netifd/wireless-device.uc"
	grep -q '^const DEFAULT_SCRIPT_TIMEOUT = 30 \* 1000;$' "$OWRT/lib/netifd/wireless-device.uc" && [ "$LAB_RELEASE" != main ] &&
		fail "could not lift the wireless handler's 30 s limit in lib/netifd/wireless-device.uc"
	# netifd at debug level: the wireless glue's "run setup", "complete
	# setup" and process checks in netifd.log (where a radio's setup goes).
	sed -i 's|procd_set_param command /sbin/netifd$|procd_set_param command /sbin/netifd -l 4|' "$OWRT/etc/init.d/network"
	python3 "$LAB_SRC/test/lab/openwrt/syslog.py" /dev/log "$LAB_OUT" 2>>"$LAB_OUT/syslog-errors.log" &
	lab_wait 60 test -f "$LAB_OUT/syslog.ready" || fail "the lab's syslog did not start"
	owrt ubusd > "$LAB_OUT/ubusd.log" 2>&1 &
	owrt_wait 60 ubus list || fail "ubusd does not answer"
	owrt procd -S > "$LAB_OUT/procd-stderr.log" 2>&1 &
	owrt_wait 60 ubus list service || fail "procd does not serve ubus"
	[ "${LAB_HOSTAPD_DEBUG:-}" = 1 ] && echo 1 > /tmp/lab-hostapd-debug
	owrt /etc/init.d/wpad start
	owrt_wait 60 ubus list hostapd || fail "no hostapd on ubus (wpad.init)"
}

# owrt_wifi_config: /etc/config/wireless as OpenWrt writes it for this
# machine's radios (wifi-detect.uc into board.json, then mac80211.uc:
# `wifi config`). Only phy0 is the router's: the other radios are the
# devices', so their sections go.
owrt_wifi_config() {
	owrt sh -c 'rm -f /etc/config/wireless; wifi config' > "$LAB_OUT/wifi-config.log" 2>&1 ||
		fail "wifi config failed (see wifi-config.log)"
	local r
	for r in $(owrt uci -q show wireless | sed -n "s/^wireless\.\([^.=]*\)=wifi-device$/\1/p"); do
		case "$(owrt uci -q get "wireless.$r.path")" in
		*/hwsim0) continue ;;
		esac
		owrt sh -c "uci -q delete wireless.$r; uci -q delete wireless.default_$r"
	done
	owrt uci commit wireless
	[ -n "$(owrt uci -q show wireless | grep '=wifi-device$')" ] || fail "wifi config made no radio for phy0 (see wifi-config.log)"
}

# owrt_householder [sae]: what the householder sets in LuCI: the radio on
# channel 6 (or LAB_BAND, LAB_CHANNEL and LAB_HTMODE if set), the access
# point's name and password (WPA2-PSK, or WPA2-PSK/WPA3-SAE mixed with
# "sae").
owrt_householder() {
	local enc=psk2
	[ "${1:-}" = sae ] && enc=sae-mixed
	owrt uci batch <<UCI
set wireless.radio0.disabled='0'
set wireless.radio0.band='${LAB_BAND:-2g}'
set wireless.radio0.channel='${LAB_CHANNEL:-6}'
set wireless.radio0.htmode='${LAB_HTMODE:-HT20}'
set wireless.radio0.country='DE'
set wireless.default_radio0.disabled='0'
set wireless.default_radio0.ssid='$LAB_SSID'
set wireless.default_radio0.encryption='$enc'
set wireless.default_radio0.key='$LAB_HOUSEHOLD_PASS'
commit wireless
UCI
}

# owrt_network: netifd, started by procd as at boot; it brings the Wi-Fi up
# with the release's scripts (which write hostapd's configuration and hand
# it to hostapd over ubus).
owrt_network() {
	# As /etc/init.d/boot does before the network starts: the checksums a
	# later reload_config compares. It compares only the files it saw, so
	# this comes after /etc/config/wireless exists (done at boot, the
	# wireless changes of trustjoin's install never reached netifd).
	owrt /sbin/reload_config
	# netifd's debug log (the wireless device's setup, teardown and process
	# checks: "wireless: radio0: ..." in netifd.log). On a router it is
	# network.globals.netifd_loglevel, read through validate_data, which
	# the lab's procd lacks; so the default in the init script.
	sed -i 's/netifd_loglevel:-2/netifd_loglevel:-4/' "$OWRT/etc/init.d/network"
	owrt /etc/init.d/network start
	owrt_wait 60 ubus list network.wireless || fail "netifd does not serve network.wireless"
}

# owrt_wifi_settled: netifd has no radio in a setup or teardown
# (network.wireless status). netifd may run a radio's setup again right
# after one (a change it saw meanwhile, such as the network's bridge made
# anew), and each setup moves hostapd's configuration file aside while it
# writes the next: an access point that answers is not yet a finished setup.
owrt_wifi_settled() {
	owrt ubus call network.wireless status 2>/dev/null | python3 -c '
import json, sys
radios = json.load(sys.stdin).values()
sys.exit(0 if radios and not any(r.get("pending") for r in radios) else 1)'
}

# owrt_ap_up IFNAME: netifd's setup is over and the access point IFNAME
# answers PING on its control socket (hostapd_cli exits 0 without an answer
# too; see lab_hostapd_cli).
owrt_ap_pong() { [ "$(LAB_AP=$1 lab_hostapd_cli ping)" = PONG ]; }
owrt_ap_ready() { owrt_wifi_settled && owrt_ap_pong "$1"; }
owrt_ap_up() {
	local ifc=$1
	# 180 s: on 24.10's and 23.05's scripts a setup took up to 95 s.
	lab_wait 180 owrt_ap_ready "$ifc" ||
		{ tail -n 30 "$LAB_OUT/netifd.log" "$LAB_OUT/hostapd.log" 2>/dev/null; fail "access point $ifc did not come up"; }
}

# owrt_install_trustjoin: opkg install of the package built for this run,
# as on a router: its uci-defaults give the LAN's WPA-PSK access points
# trustjoin's PSK and VLAN files, and procd starts the daemon.
owrt_install_trustjoin() {
	local ipk
	ipk=$(ls /tmp/lab/out/ipk/trustjoin_*_x86_64.ipk 2>/dev/null | head -1)
	[ -n "$ipk" ] || fail "no trustjoin .ipk in the results share (run.sh builds it)"
	owrt opkg install "$ipk" > "$LAB_OUT/opkg.log" 2>&1 || { cat "$LAB_OUT/opkg.log"; fail "opkg install trustjoin failed"; }
}

# owrt_tj_ready_count: how many times the daemon said it was ready.
owrt_tj_ready_count() { grep -c 'msg=ready' "$LAB_OUT/trustjoin.log" 2>/dev/null || echo 0; }

# owrt_tj_wait_ready BEFORE: wait until the daemon reports ready once more
# than BEFORE times.
owrt_tj_wait_ready() {
	local before=$1
	lab_wait 60 sh -c "[ \$(grep -c 'msg=ready' '$LAB_OUT/trustjoin.log' 2>/dev/null || echo 0) -gt $before ]" ||
		{ tail -n 20 "$LAB_OUT/trustjoin.log" 2>/dev/null; fail "trustjoin did not become ready"; }
}

# owrt_uci_lines PACKAGE [UCI file lines]: the lines, as a UCI file would
# have them ("config T 'N'", "	option K 'V'", "	list K 'V'"), applied
# with uci to the router's PACKAGE, as a householder or a script would.
owrt_uci_lines() {
	local pkg=$1
	shift
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | awk -v pkg="$pkg" '
		function unq(s) { gsub(/^'\''|'\''$/, "", s); return s }
		$1 == "config" { sec = unq($3); print "set " pkg "." sec "=" $2; next }
		$1 == "option" { k = $2; $1 = ""; $2 = ""; sub(/^ +/, ""); print "set " pkg "." sec "." k "=" $0; next }
		$1 == "list" { k = $2; $1 = ""; $2 = ""; sub(/^ +/, "")
			if (!((sec, k) in cleared)) { print "delete " pkg "." sec "." k; cleared[sec, k] = 1 }
			print "add_list " pkg "." sec "." k "=" $0; next }
		NF { print "bad line: " $0 > "/dev/stderr"; exit 1 }
	' > /tmp/lab-uci-batch || fail "lab: cannot read the UCI lines $*"
	{ cat /tmp/lab-uci-batch; echo "commit $pkg"; } | owrt uci batch || fail "uci batch failed: $(cat /tmp/lab-uci-batch)"
}
