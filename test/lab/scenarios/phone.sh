#!/bin/bash
# lab: radios=3 timeout=300
# The phone flow against real radios. A one-time link is opened as the
# phone's browser would (curl with a cookie jar; the page itself runs in
# Chromium in test/ui/phone), the device's DPP URI is posted with the
# page's CSRF token, and real hostapd configures a real wpa_supplicant that
# connects with its own key and VLAN. The link does not open twice. The
# legacy path gives an old device a passphrase of its own that works.
. "$LAB_SRC/test/lab/lib.sh"
set -u

ip link set lo up
lab_router "	option legacy_passphrase '1'" \
	"config web 'web'" "	option enabled '1'" "	list listen '127.0.0.1:8099'"
base=http://127.0.0.1:8099

# post PATH JSON: what the page sends, with its session and CSRF token.
post() {
	curl -sS -b /tmp/phone.jar -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
		-H "Origin: $base" -H 'Sec-Fetch-Site: same-origin' --data "$2" "$base$1" | tee -a "$LAB_OUT/phone-replies.log"
}

say "the router hands out a one-time link; the first phone to open it gets the page"
link=$(tj phone --json | jq -r .url)
case "$link" in "$base/p/"*) ;; *) fail "unexpected phone link: $link" ;; esac
token=${link#"$base/p/"}
code=$(curl -sS -L -c /tmp/phone.jar -b /tmp/phone.jar -o /tmp/page.html -w '%{http_code}' "$link")
[ "$code" = 200 ] || fail "opening the link: HTTP $code"
csrf=$(sed -n 's/.*name="csrf-token" content="\([^"]*\)".*/\1/p' /tmp/page.html)
[ -n "$csrf" ] || fail "no CSRF token in the phone's page"

say "a second phone opening the same link is refused"
code=$(curl -sS -c /tmp/other.jar -o /tmp/other.html -w '%{http_code}' "$link")
[ "$code" = 410 ] && grep -q "already been used" /tmp/other.html || fail "the link opened twice (HTTP $code)"

say "a doorbell on wlan1 is onboarded from the phone, into the default segment (iot, VLAN 20)"
lab_start_sta wlan1
uri=$(lab_dpp_qr wlan1)
id=$(post /api/onboard "$(jq -nc --arg u "$uri" '{method: "qr", uri: $u, name: "doorbell"}')" | jq -r .id)
[ -n "$id" ] && [ "$id" != null ] || fail "the phone's onboarding request was refused"
state=
for _ in $(seq 90); do
	state=$(curl -sS -b /tmp/phone.jar "$base/api/progress/$id" | tee -a "$LAB_OUT/phone-replies.log" | jq -r .state)
	case "$state" in connected | failed | cancelled) break ;; esac
	sleep 1
done
[ "$state" = connected ] || fail "the phone's progress ended as '$state'"
lab_wait 60 lab_sta_connected wlan1 || fail "doorbell not connected"
mac1=$(lab_mac wlan1)
lab_log_wait 10 "$LAB_OUT/hostapd.log" "AP-STA-CONNECTED $mac1 keyid=" || fail "doorbell did not connect with its own key id"
lab_log_wait 10 "$LAB_OUT/hostapd.log" "Assigned VLAN ID 20 from wpa_psk_file to $mac1" || fail "doorbell not in VLAN 20"
tj device doorbell | grep -q 'state: connected' || fail "registry does not say the doorbell is connected"

say "an old printer without DPP gets its own passphrase on the phone (legacy path) and joins with it"
reply=$(post /api/legacy '{"name": "old printer"}')
pass=$(echo "$reply" | jq -r .passphrase)
[ "$(echo "$reply" | jq -r .ssid)" = "$LAB_SSID" ] || fail "the phone was shown the wrong network: $reply"
[ ${#pass} -ge 16 ] || fail "no passphrase for the printer"
[ "$pass" != "$LAB_HOUSEHOLD_PASS" ] || fail "the printer was given the household's shared passphrase"
lab_start_sta wlan2
lab_connect_psk wlan2 "$pass"
lab_wait 60 lab_sta_connected wlan2 || fail "the printer did not connect with its passphrase"
mac2=$(lab_mac wlan2)
lab_log_wait 10 "$LAB_OUT/hostapd.log" "AP-STA-CONNECTED $mac2 keyid=" || fail "the printer connected without a key id"
key2=$(keyid_of "$mac2")
printer=$(tj devices --json | jq -r '.devices[] | select(.name == "old printer") | .id')
[ -n "$key2" ] && [ "$key2" = "$printer" ] || fail "the printer connected as key id '$key2', not as its own device '$printer'"
lab_log_wait 10 "$LAB_OUT/hostapd.log" "Assigned VLAN ID 20 from wpa_psk_file to $mac2" || fail "printer not in VLAN 20"

say "no token or passphrase in trustjoin's log; no passphrase in any reply but the one legacy reply"
lab_no_secret "$token" "$LAB_OUT/trustjoin.log"
lab_no_secret "$pass" "$LAB_OUT/trustjoin.log"
[ "$(grep -cF -- "$pass" "$LAB_OUT/phone-replies.log")" = 1 ] || fail "the printer's passphrase was sent more than once"
for p in $(awk '{print $NF}' "$psk"); do
	[ "$p" = "$pass" ] && continue
	lab_no_secret "$p" "$LAB_OUT/phone-replies.log" "$LAB_OUT/trustjoin.log"
done
say "phone: OK"
