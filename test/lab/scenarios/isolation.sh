#!/bin/bash
# lab: radios=3 timeout=480
# Devices on one access point kept apart: two devices onboarded by DPP into
# the same segment reach each other while the segment allows it (trusted),
# and not once it isolates its devices (iot), although both are stations of
# the same access point in the same VLAN. mac80211 would pass frames
# between two stations of one interface itself, where no firewall sees
# them; with per_sta_vif every station has an interface of its own, a port
# of the segment's bridge, so trustjoin's bridge table judges their traffic.
. "$LAB_SRC/test/lab/lib.sh"
set -u

lab_router

say "two devices (each in a network namespace of its own) onboarded into segment trusted (VLAN 10)"
for d in 1 2; do
	lab_start_sta "wlan$d" "d$d"
	uri=$(lab_dpp_qr "wlan$d" "d$d")
	tj onboard --qr "$uri" --name "dev$d" --segment trusted || fail "onboarding dev$d failed"
	lab_wait 60 lab_sta_connected "wlan$d" || fail "dev$d not connected"
	ip netns exec "d$d" python3 -c '
import socketserver
class H(socketserver.BaseRequestHandler):
    def handle(self): self.request.sendall(b"hello\n")
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("0.0.0.0", 7000), H).serve_forever()
' >> "$LAB_OUT/servers.log" 2>&1 &
done

# address VLAN: the router on brvlanVLAN, the devices .11 and .12 there.
address() {
	local vlan=$1
	lab_wait 10 test -e "/sys/class/net/brvlan$vlan" || fail "no bridge brvlan$vlan"
	ip addr add "192.168.$vlan.1/24" dev "brvlan$vlan" 2>/dev/null
	for d in 1 2; do
		ip -n "d$d" addr flush dev "wlan$d"
		ip -n "d$d" addr add "192.168.$vlan.1$d/24" dev "wlan$d"
	done
}
# talks FROM TO-ADDRESS: FROM's TCP connection to port 7000 there is answered.
talks() {
	[ "$(ip netns exec "$1" timeout 5 python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 7000), timeout=3)
print(s.recv(16).decode().strip())' "$2" 2>/dev/null)" = hello ]
}
# ports VLAN: the bridge's ports (for the log).
ports() { bridge link show | grep "master brvlan$1" | tee -a "$LAB_OUT/bridge-ports.log"; }

address 10
say "each station is a port of its own on brvlan10"
[ "$(ports 10 | wc -l)" -ge 2 ] || fail "the two stations are not two ports of brvlan10 (per_sta_vif)"
say "trusted does not isolate: dev1 and dev2 reach each other"
lab_wait 20 talks d1 192.168.10.12 || fail "dev1 cannot reach dev2 in segment trusted"
talks d2 192.168.10.11 || fail "dev2 cannot reach dev1 in segment trusted"

say "both moved to segment iot (VLAN 20), which isolates its devices"
mac1=$(lab_mac wlan1 d1) mac2=$(lab_mac wlan2 d2)
for d in 1 2; do
	tj move "dev$d" iot | tee -a "$LAB_OUT/cli.log" || fail "moving dev$d failed"
done
in_20() { grep -q "Assigned VLAN ID 20 from wpa_psk_file to $1" "$LAB_OUT/hostapd.log"; }
lab_wait 60 in_20 "$mac1" || fail "dev1 did not come back in VLAN 20"
lab_wait 60 in_20 "$mac2" || fail "dev2 did not come back in VLAN 20"
for d in 1 2; do lab_wait 60 lab_sta_connected "wlan$d" || fail "dev$d did not reconnect"; done
address 20
[ "$(ports 20 | wc -l)" -ge 2 ] || fail "the two stations are not two ports of brvlan20"
say "both still reach the router"
for d in 1 2; do
	lab_wait 20 ip netns exec "d$d" busybox ping -c 1 -W 1 192.168.20.1 || fail "dev$d cannot reach the router in segment iot"
done
say "but not each other, neither TCP nor ping"
talks d1 192.168.20.12 && fail "dev1 reaches dev2 in segment iot, which isolates its devices"
talks d2 192.168.20.11 && fail "dev2 reaches dev1 in segment iot, which isolates its devices"
ip netns exec d1 busybox ping -c 2 -W 1 192.168.20.12 && fail "dev1 pings dev2 in segment iot"
say "isolation: OK"
