# Helpers for lab scenarios, sourced inside the lab VM (bash).
# Radios: wlan0 is the router's access point, wlan1.. are devices.
# Everything a scenario produces goes to $LAB_OUT.

LAB_SSID=${LAB_SSID:-trustjoin-lab}
# The household's shared password, for devices onboarded the old way.
LAB_HOUSEHOLD_PASS=${LAB_HOUSEHOLD_PASS:-household-shared-secret}

say() { echo "== $*"; }
fail() { echo "FAIL: $*"; exit 1; }

# lab_wait SECONDS CMD...: run CMD every 0.2 s until it succeeds.
lab_wait() {
	local t=$1; shift
	local end=$(( $(date +%s) + t ))
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

lab_hostapd_cli() { hostapd_cli -p /var/run/hostapd -i "${LAB_AP:-wlan0}" "$@"; }
lab_wpa_cli() { local i=$1; shift; wpa_cli -p /var/run/wpa_supplicant -i "$i" "$@"; }

# lab_freq CHANNEL: 2.4 GHz centre frequency.
lab_freq() { echo $(( 2407 + 5 * $1 )); }

# lab_start_ap IFACE CHANNEL PSKFILE [sae]: hostapd as the home router's AP,
# with per-station PSKs and VLANs from PSKFILE and the shared passphrase.
lab_start_ap() {
	local ifc=$1 chan=$2 pskfile=$3 mode=${4:-psk}
	local conf=$LAB_OUT/hostapd-$ifc.conf
	LAB_AP=$ifc
	local keymgmt="WPA-PSK"
	[ "$mode" = sae ] && keymgmt="WPA-PSK SAE"
	cat > "$conf" <<CONF
interface=$ifc
driver=nl80211
ctrl_interface=/var/run/hostapd
ssid=$LAB_SSID
hw_mode=g
channel=$chan
wpa=2
wpa_key_mgmt=$keymgmt
rsn_pairwise=CCMP
ieee80211w=1
wpa_passphrase=$LAB_HOUSEHOLD_PASS
wpa_psk_file=$pskfile
dynamic_vlan=1
vlan_file=$LAB_OUT/hostapd.vlan
vlan_naming=1
vlan_bridge=brvlan
per_sta_vif=1
CONF
	# What trustjoin's uci-defaults makes OpenWrt write: a wildcard with
	# short names, each station's interface bridged into brvlan<VLAN>.
	echo "* tj0v#" > "$LAB_OUT/hostapd.vlan"
	[ -f "$pskfile" ] || : > "$pskfile"
	# LAB_HOSTAPD_DEBUG=1: hostapd's debug output too (what it did with
	# each command).
	hostapd -B -t ${LAB_HOSTAPD_DEBUG:+-d} -f "$LAB_OUT/hostapd.log" -P "$LAB_OUT/hostapd.pid" "$conf" ||
		fail "hostapd did not start (see hostapd.log)"
	lab_wait 10 lab_hostapd_cli ping || fail "hostapd control socket does not answer"
}

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

# lab_write_config FILE [extra UCI lines]: a trustjoin configuration for the lab.
lab_write_config() {
	local f=$1; shift
	mkdir -p /tmp/tj
	{
		echo "config trustjoin 'main'"
		echo "	option state_dir '/tmp/tj/state'"
		echo "	option run_dir '/tmp/tj/run'"
		echo "	option hostapd_ctrl_dir '/var/run/hostapd'"
		echo "	option log_level 'debug'"
		for l in "$@"; do echo "$l"; done
	} > "$f"
}

# lab_start_trustjoin CONFIG: the daemon, logging to $LAB_OUT/trustjoin.log
# (appended, so a restart keeps the earlier run's lines), waited for until
# it reports ready. Fails at once if the daemon exits, else after 20 s; both
# with the log's tail. The root is read-only here, so the last good
# configuration is kept in /tmp.
lab_start_trustjoin() {
	local cfg=$1 log=$LAB_OUT/trustjoin.log before pid end
	[ "${LAB_TJ_BIN:-}" != none ] || fail "this scenario needs trustjoin, but the lab ran with TJ_BIN=none"
	[ -x "$TJ_BIN" ] || fail "no trustjoin binary at $TJ_BIN"
	: >> "$log"
	before=$(grep -c 'msg=ready' "$log")
	"$TJ_BIN" daemon --config "$cfg" --last-good /tmp/tj/last-good.uci >> "$log" 2>&1 &
	pid=$!
	echo "$pid" > "$LAB_OUT/trustjoin.pid"
	end=$(( $(date +%s) + 20 ))
	while [ "$(grep -c 'msg=ready' "$log")" -le "$before" ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			echo "trustjoin exited with status $? before it was ready; last lines of trustjoin.log:"
			tail -n 20 "$log"
			fail "trustjoin did not start"
		fi
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "last lines of trustjoin.log:"
			tail -n 20 "$log"
			fail "trustjoin did not become ready within 20 s"
		fi
		sleep 0.2
	done
}

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

# The router of the onboarding scenarios: hostapd on wlan0 (channel 6) with
# the PSK file trustjoin owns, and trustjoin attached to it. Sets $psk.
psk=/tmp/tj/state/psk/wlan0.psk
lab_router() {
	mkdir -p /tmp/tj/state/psk
	lab_start_ap wlan0 6 "$psk"
	lab_write_config /tmp/tj.uci \
		"config wifi 'home'" "	option ifname 'wlan0'" "	option psk_file '$psk'" \
		"config onboarding 'onboarding'" "	option timeout '60'" "$@"
	lab_start_trustjoin /tmp/tj.uci
	lab_wait 10 grep -q 'access point ready for onboarding' "$LAB_OUT/trustjoin.log" ||
		fail "trustjoin did not attach to hostapd"
}

# tj COMMAND [ARGS...]: the CLI against the lab's daemon.
tj() { "$TJ_BIN" "$1" --config /tmp/tj.uci "${@:2}"; }

# keyid_of MAC: the key id hostapd last reported for a station.
keyid_of() { grep "AP-STA-CONNECTED $1 keyid=" "$LAB_OUT/hostapd.log" | tail -1 | sed 's/.*keyid=//'; }

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
}

# lab_reach PORT: what the camera (namespace cam) gets from the internet
# server on PORT; nothing if it cannot reach it.
lab_reach() {
	ip netns exec cam timeout 5 python3 -c '
import socket, sys
s = socket.create_connection(("203.0.113.10", int(sys.argv[1])), timeout=3)
print(s.recv(64).decode().strip())' "$1" 2>/dev/null
}
