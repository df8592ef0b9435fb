# Helpers for lab scenarios, sourced inside the lab VM (bash).
# Radios: wlan0 is the router's access point, wlan1.. are devices.
# Everything a scenario produces goes to $LAB_OUT.

LAB_SSID=${LAB_SSID:-trustjoin-lab}
# The household's shared password, for devices onboarded the old way.
LAB_HOUSEHOLD_PASS=${LAB_HOUSEHOLD_PASS:-household-shared-secret}

# say: a step of the scenario, with the seconds since it started (where
# the time goes).
say() { echo "== [${SECONDS}s] $*"; }
. "$LAB_SRC/test/lab/openwrt.sh"
# Every command the scenario runs, with the time it started, in trace.log
# (where a slow run spent its time; lab_wait's polls are left out).
exec 7>>"$LAB_OUT/trace.log"
BASH_XTRACEFD=7
PS4='+ $EPOCHREALTIME ${BASH_SOURCE[0]##*/}:$LINENO '
set -x
fail() { echo "FAIL: $*"; exit 1; }

# lab_wait SECONDS CMD...: run CMD every 0.2 s until it succeeds.
lab_wait() {
	local t=$1 x=${-//[^x]/}; shift
	set +x
	local end=$(( $(date +%s) + t ))
	while [ "$(date +%s)" -lt "$end" ]; do
		if "$@" >/dev/null 2>&1; then
			[ -n "$x" ] && set -x
			return 0
		fi
		sleep 0.2
	done
	[ -n "$x" ] && set -x
	return 1
}

# The router's access point (tj-ap0 once trustjoin's install named it) and
# its control sockets, as the Debian side sees them (the router's /var/run
# is /tmp/run).
LAB_AP=${LAB_AP:-tj-ap0}
# hostapd answers on the client's socket as user network (OpenWrt's wpad
# under ujail): hostapd_cli's socket must be writable by it, or every reply
# is lost and the command times out (hostapd_cli still exits 0).
lab_hostapd_cli() { (umask 0; hostapd_cli -p "$LAB_CTRL" -i "$LAB_AP" "$@"); }
lab_wpa_cli() { local i=$1; shift; wpa_cli -p /var/run/wpa_supplicant -i "$i" "$@"; }

# lab_freq CHANNEL: 2.4 GHz centre frequency.
lab_freq() { echo $(( 2407 + 5 * $1 )); }

# lab_hostapd_pid: the pid of the hostapd serving the router's access
# points (OpenWrt's wpad under procd and ujail, or Debian's).
lab_hostapd_pid() { pgrep -x hostapd | head -1; }

# lab_start_sta IFACE [NETNS]: wpa_supplicant as a device, ready for DPP.
# With NETNS, the device's radio moves into a network namespace of that
# name first, so the device is a host of its own whose packets cross the
# router (its control socket stays where wpa_cli finds it).
lab_start_sta() {
	local ifc=$1 ns=${2:-} conf=$LAB_OUT/wpa_supplicant-$1.conf
	local run=()
	if [ -n "$ns" ]; then
		local phy
		phy=$(cat "/sys/class/net/$ifc/phy80211/name") || fail "no radio behind $ifc"
		ip netns add "$ns" 2>/dev/null
		iw phy "$phy" set netns name "$ns" || fail "could not move $phy ($ifc) into netns $ns"
		ip -n "$ns" link set lo up
		run=(ip netns exec "$ns")
	fi
	cat > "$conf" <<CONF
ctrl_interface=/var/run/wpa_supplicant
update_config=1
dpp_config_processing=2
pmf=1
CONF
	"${run[@]}" wpa_supplicant -B -t -i "$ifc" -c "$conf" -f "$LAB_OUT/wpa_supplicant-$ifc.log" -P "$LAB_OUT/wpa_supplicant-$ifc.pid" ||
		fail "wpa_supplicant on $ifc did not start"
	lab_wait 10 lab_wpa_cli "$ifc" ping || fail "wpa_supplicant on $ifc does not answer"
}

# lab_mac IFACE [NETNS]
lab_mac() {
	if [ -n "${2:-}" ]; then
		ip -n "$2" -o link show "$1" | sed 's/.*link\/ether \([0-9a-f:]*\).*/\1/'
	else
		cat "/sys/class/net/$1/address"
	fi
}

# lab_dpp_qr IFACE [NETNS]: the device shows its QR code (prints the DPP
# URI) and listens on channel 6 for the configurator.
lab_dpp_qr() {
	local ifc=$1 mac id
	mac=$(lab_mac "$ifc" "${2:-}" | tr -d :)
	id=$(lab_wpa_cli "$ifc" dpp_bootstrap_gen type=qrcode chan=81/6 mac="$mac" | tail -1)
	lab_wpa_cli "$ifc" dpp_listen 2437 >/dev/null
	lab_wpa_cli "$ifc" dpp_bootstrap_get_uri "$id" | tail -1
}

# lab_sta_connected IFACE: the device completed association and 4-way handshake.
lab_sta_connected() { lab_wpa_cli "$1" status | grep -q '^wpa_state=COMPLETED'; }

# lab_no_secret SECRET FILE...: fail if a secret shows up in any file. A
# missing file fails too: a check that cannot find anything proves nothing.
lab_no_secret() {
	local s=$1; shift
	[ -n "$s" ] || fail "lab_no_secret: empty secret"
	for f in "$@"; do
		[ -s "$f" ] || fail "lab_no_secret: $f is missing or empty"
		if grep -qF -- "$s" "$f"; then
			fail "a secret appears in $(basename "$f")"
		fi
	done
}

# lab_router [OPTIONS] [UCI lines]: the router of the scenarios, as an ISP
# image with trustjoin in it boots: OpenWrt's wifi configuration for the
# VM's phy0 with the householder's settings, trustjoin installed from its
# package (its uci-defaults give the access point trustjoin's PSK and VLAN
# files and the name tj-ap0), the lab's trustjoin settings (debug log,
# onboarding timeout, and the UCI lines: "config T 'N'", "	option K 'V'"),
# then the network and with it the Wi-Fi: netifd runs the release's
# scripts, which write hostapd's configuration and hand it to hostapd.
# Waits until trustjoin is attached to the access point. Sets $psk (the PSK
# file, as the Debian side sees it) and $LAB_AP.
# OPTIONS: --sae (WPA2/WPA3 mixed), --psk-line LINE (a line in the PSK file
# before hostapd starts, as if added by hand), --file SRC DST (a file put
# in the router's root before trustjoin is installed), --no-wait (do not
# wait for trustjoin to attach), --ap-down (nor for the access point to come
# up: the scenario expects it not to).
lab_router() {
	local enc="" lines=() wait=1 up=1 before files=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--sae) enc=sae; shift ;;
		--psk-line) lines+=("$2"); shift 2 ;;
		--file) files+=("$2" "$3"); shift 3 ;;
		--no-wait) wait=0; shift ;;
		--ap-down) wait=0 up=0; shift ;;
		*) break ;;
		esac
	done
	owrt_boot
	owrt_wifi_config
	owrt_householder $enc
	while [ ${#files[@]} -gt 0 ]; do
		install -D -m 0644 "${files[0]}" "$OWRT${files[1]}"
		files=("${files[@]:2}")
	done
	before=$(owrt_tj_ready_count)
	owrt_install_trustjoin
	LAB_AP=$(owrt uci -q get wireless.default_radio0.ifname)
	[ -n "$LAB_AP" ] || fail "trustjoin's install gave the access point no name"
	psk=$OWRT$(owrt uci -q get wireless.default_radio0.wpa_psk_file)
	[ -f "$psk" ] || fail "trustjoin's install made no PSK file ($psk)"
	if [ ${#lines[@]} -gt 0 ]; then printf '%s\n' "${lines[@]}" >> "$psk"; fi
	owrt_tj_wait_ready "$before"
	before=$(owrt_tj_ready_count)
	owrt_uci_lines trustjoin "config trustjoin 'main'" "	option log_level 'debug'" \
		"config onboarding 'onboarding'" "	option timeout '60'" "$@"
	owrt /etc/init.d/trustjoin restart
	owrt_tj_wait_ready "$before"
	owrt_network
	[ "$up" = 0 ] || owrt_ap_up "$LAB_AP"
	# What OpenWrt's scripts wrote, for the record (it holds the shared
	# password: the results folder is the test's, not the router's).
	cp /tmp/run/hostapd-phy0.conf "$LAB_OUT/hostapd-phy0.conf" 2>/dev/null
	[ "$wait" = 1 ] || return 0
	lab_wait 60 grep -q 'access point ready for onboarding' "$LAB_OUT/trustjoin.log" ||
		{ tail -n 20 "$LAB_OUT/trustjoin.log"; fail "trustjoin did not attach to hostapd"; }
}

# tj COMMAND [ARGS...]: the CLI on the router.
tj() { owrt trustjoin "$@"; }

# lab_tj_restart: /etc/init.d/trustjoin restart, waited for.
lab_tj_restart() {
	local before
	before=$(owrt_tj_ready_count)
	owrt /etc/init.d/trustjoin restart
	owrt_tj_wait_ready "$before"
}

# lab_tj_pid: the daemon's pid, from procd.
lab_tj_pid() {
	owrt ubus call service list '{"name":"trustjoin"}' | jq -r '.trustjoin.instances[].pid // empty' | head -1
}

# keyid_of MAC: the key id hostapd last reported for a station (2.11+
# adds fields after it: "keyid=K vlanid=V auth_alg=A").
keyid_of() { grep "AP-STA-CONNECTED $1 keyid=" "$LAB_OUT/hostapd.log" | tail -1 | sed 's/.*keyid=\([^ ]*\).*/\1/'; }

# lab_log_wait SECONDS FILE PATTERN: until FILE has a line matching the
# (grep) PATTERN; logs arrive through syslog a moment after the event.
lab_log_wait() { lab_wait "$1" grep -q -- "$3" "$2"; }

# lab_connect_psk IFACE PASSPHRASE: a device joining the old way, by typing
# a passphrase.
lab_connect_psk() {
	local ifc=$1 pass=$2 id
	id=$(lab_wpa_cli "$ifc" add_network | tail -1)
	lab_wpa_cli "$ifc" set_network "$id" ssid "\"$LAB_SSID\"" >/dev/null
	lab_wpa_cli "$ifc" set_network "$id" psk "\"$pass\"" >/dev/null
	lab_wpa_cli "$ifc" set_network "$id" key_mgmt WPA-PSK >/dev/null
	lab_wpa_cli "$ifc" set_network "$id" ieee80211w 1 >/dev/null
	lab_wpa_cli "$ifc" enable_network "$id" >/dev/null
}

# lab_camera_iot [MUD_URL]: the camera (wlan1, in its own network
# namespace cam) onboarded by its QR code into segment iot (VLAN 20, bridge
# brvlan20), at 192.168.20.10 with the router at .1; MUD_URL is the MUD
# file it names, if any.
lab_camera_iot() {
	local uri
	lab_start_sta wlan1 cam
	[ -z "${1:-}" ] || lab_wpa_cli wlan1 set dpp_mud_url "$1" >/dev/null
	uri=$(lab_dpp_qr wlan1 cam)
	tj onboard --qr "$uri" --name camera --segment iot || fail "onboarding the camera failed"
	lab_wait 60 lab_sta_connected wlan1 || fail "camera not connected"
	lab_wait 10 test -e /sys/class/net/brvlan20 || fail "no bridge brvlan20 for the camera's VLAN"
	ip addr add 192.168.20.1/24 dev brvlan20
	ip -n cam addr add 192.168.20.10/24 dev wlan1
	ip -n cam route add default via 192.168.20.1
}

# lab_internet: "the internet", network namespace inet: 203.0.113.10 behind
# the router's wan0 (203.0.113.1, forwarding on), with TCP servers on 8080
# and 9090 that answer "open-PORT".
lab_internet() {
	say "the internet: 203.0.113.10 behind the router's wan0, TCP servers on 8080 and 9090"
	ip netns add inet
	ip link add wan0 type veth peer name eth0 netns inet
	ip addr add 203.0.113.1/24 dev wan0 && ip link set wan0 up
	ip -n inet addr add 203.0.113.10/24 dev eth0 && ip -n inet link set eth0 up && ip -n inet link set lo up
	ip -n inet route add default via 203.0.113.1
	sysctl -qw net.ipv4.ip_forward=1
	ip netns exec inet python3 -c '
import socketserver, threading
class H(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(b"open-%d\n" % self.server.server_address[1])
socketserver.ThreadingTCPServer.allow_reuse_address = True
for p in (8080, 9090):
    s = socketserver.ThreadingTCPServer(("0.0.0.0", p), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
threading.Event().wait()
' >> "$LAB_OUT/internet.log" 2>&1 &
	# Listening before anyone is asked to reach it: a refused connection
	# would read as a blocked one.
	lab_wait 30 lab_internet_up || fail "the internet's servers do not listen (see internet.log)"
}
lab_internet_up() { [ "$(ip netns exec inet ss -Hltn 'sport = :8080 or sport = :9090' | wc -l)" -ge 2 ]; }

# lab_reach PORT: what the camera (namespace cam) gets from the internet
# server on PORT; nothing if it cannot reach it.
lab_reach() {
	ip netns exec cam timeout 5 python3 -c '
import socket, sys
s = socket.create_connection(("203.0.113.10", int(sys.argv[1])), timeout=3)
print(s.recv(64).decode().strip())' "$1" 2>/dev/null
}
