#!/bin/bash
# lab: radios=2 timeout=600
# A device kept in its lane: a camera onboarded by DPP names its MUD file in
# its configuration request; trustjoin fetches it over HTTPS, verifies its
# CMS signature against the maker's trust anchor, and from then on the
# camera, in its own VLAN, reaches only what the file allows. Quarantine
# cuts it off; release lets it back.
. "$LAB_SRC/test/lab/lib.sh"
set -u

mud=/tmp/labmud
mkdir -p "$mud/www"
cd "$mud" || fail "no $mud"

say "a camera maker's CA, MUD signer (code signing) and HTTPS server certificate"
ossl() { openssl "$@" >> "$LAB_OUT/openssl.log" 2>&1 || fail "openssl $1 failed (see openssl.log)"; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 \
	-subj "/CN=Lab camera maker CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n' > signer.ext
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
for who in signer server; do
	ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$who.key" -out "$who.csr" -subj "/CN=lab $who"
	ossl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$who.pem" -days 2 -extfile "$who.ext"
done

say "its MUD file: TCP to 203.0.113.10 port 8080, nothing else; signed with openssl cms"
base=https://127.0.0.1:8443
cat > www/camera.json <<JSON
{"ietf-mud:mud": {"mud-version": 1, "mud-url": "$base/camera.json", "mud-signature": "$base/camera.p7s",
  "last-update": "2026-11-01T00:00:00Z", "cache-validity": 48, "is-supported": true,
  "systeminfo": "Lab camera", "mfg-name": "Lab",
  "from-device-policy": {"access-lists": {"access-list": [{"name": "cam-out"}]}},
  "to-device-policy": {"access-lists": {"access-list": [{"name": "cam-in"}]}}},
 "ietf-access-control-list:acls": {"acl": [
  {"name": "cam-out", "type": "ipv4-acl-type", "aces": {"ace": [{"name": "video-out",
    "matches": {"ipv4": {"protocol": 6, "destination-ipv4-network": "203.0.113.10/32"},
                "tcp": {"destination-port": {"operator": "eq", "port": 8080}}},
    "actions": {"forwarding": "accept"}}]}},
  {"name": "cam-in", "type": "ipv4-acl-type", "aces": {"ace": [{"name": "video-in",
    "matches": {"ipv4": {"protocol": 6, "source-ipv4-network": "203.0.113.10/32"},
                "tcp": {"source-port": {"operator": "eq", "port": 8080}}},
    "actions": {"forwarding": "accept"}}]}}]}}
JSON
ossl cms -sign -binary -in www/camera.json -signer signer.pem -inkey signer.key -outform DER -out www/camera.p7s

say "the maker's HTTPS server (real TLS) on 127.0.0.1:8443"
python3 -c '
import http.server, ssl, os, sys
os.chdir(sys.argv[1] + "/www")
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 8443), http.server.SimpleHTTPRequestHandler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1] + "/server.pem", sys.argv[1] + "/server.key")
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
' "$mud" >> "$LAB_OUT/mud-server.log" 2>&1 &
tls_up() { openssl s_client -connect 127.0.0.1:8443 -CAfile "$mud/ca.pem" -verify_return_error </dev/null >> "$LAB_OUT/openssl.log" 2>&1; }
lab_wait 30 tls_up || fail "the MUD server does not answer over TLS (see openssl.log, mud-server.log)"

lab_internet


say "the router: trustjoin trusts the maker's CA for MUD signatures and requires them"
# The maker's server certificate chains to the lab CA: the router's CA
# bundle (OpenWrt's ca-bundle path) holds it.
lab_router --file "$mud/ca.pem" /etc/ssl/certs/ca-certificates.crt "config mud 'mud'" "	option signature_policy 'require'" "	list trust_anchor '$mud/ca.pem'"

say "the camera (its own network namespace) is onboarded by its QR code into segment iot, naming its MUD file"
lab_camera_iot "$base/camera.json"

say "the MUD file is fetched, its signature verified, and it is enforced"
mud_status() { tj device camera --json | python3 -c 'import json,sys; m=json.load(sys.stdin)["mud"]; print(m["status"], "|", m["detail"])'; }
mud_enforced() { tj device camera --json | grep -q '"status": "enforced"'; }
lab_wait 30 mud_enforced ||
	{ mud_status; fail "the camera's MUD file was not enforced"; }
mud_status | tee -a "$LAB_OUT/cli.log"
mud_status | grep -q "firewall" && fail "the MUD status says the firewall did not apply it"
# fw4 and LuCI list the ruleset with nft: trustjoin's tables must not break that.
nft list ruleset > "$LAB_OUT/nft-ruleset.txt" 2>&1 || fail "nft cannot list the ruleset with trustjoin's tables in it"
grep -q "$(lab_mac wlan1 cam)" "$LAB_OUT/nft-ruleset.txt" || fail "the camera's MAC is not in trustjoin's tables"

say "the camera reaches 203.0.113.10:8080, as its MUD file allows"
got=$(lab_reach 8080)
[ "$got" = open-8080 ] || fail "the camera cannot reach what its MUD file allows (got '$got')"
say "and nothing else: 203.0.113.10:9090 is dropped"
got=$(lab_reach 9090)
[ -z "$got" ] || fail "the camera reached 9090, which its MUD file does not allow (got '$got')"

say "quarantine: one command, and the camera reaches nothing"
tj quarantine camera | tee -a "$LAB_OUT/cli.log" || fail "quarantine failed"
lab_wait 60 sh -c "grep -q 'VLAN ID 99' '$LAB_OUT/hostapd.log'" || fail "the camera was not put in the quarantine VLAN"
# Connected again, in VLAN 99: a camera still between associations would
# reach nothing whatever the rules.
lab_wait 60 lab_sta_connected wlan1 || fail "the quarantined camera did not connect again"
got=$(lab_reach 8080)
[ -z "$got" ] || fail "a quarantined camera still reaches 8080 (got '$got')"

say "release: back in its segment, its MUD file applies again"
tj release camera | tee -a "$LAB_OUT/cli.log" || fail "release failed"
back_in_20() { [ "$(grep -c 'Assigned VLAN ID 20 from' "$LAB_OUT/hostapd.log")" -ge 2 ]; }
lab_wait 40 back_in_20 || fail "the released camera did not come back to VLAN 20"
lab_wait 60 lab_sta_connected wlan1 || fail "camera did not reconnect after release"
# hostapd removed VLAN 20's bridge while no station used it (OpenWrt's
# netifd keeps its bridges): give the router its address there again.
lab_wait 10 test -e /sys/class/net/brvlan20 || fail "no bridge brvlan20 after release"
ip addr add 192.168.20.1/24 dev brvlan20 2>/dev/null
reaches_8080() { [ "$(lab_reach 8080)" = open-8080 ]; }
lab_wait 20 reaches_8080 ||
	fail "the released camera does not reach 8080 again"
got=$(lab_reach 9090)
[ -z "$got" ] || fail "the released camera reached 9090 (got '$got')"
say "the camera stayed in its lane throughout"
