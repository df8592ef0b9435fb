#!/bin/bash
# lab: radios=2 timeout=300
# Hostile input meant for hostapd (issue 15, item 1). hostapd finds the
# parameters of DPP_PKEX_ADD by searching the whole command for " init=1",
# " identifier=", " tcp_addr=" and takes the code to its end, so a PKEX
# code with spaces would add parameters of the sender's choosing (here:
# make the router start PKEX itself), and a NUL would cut it short. Such
# codes, identifiers and names are refused with a clear error by every
# entry point (CLI, local API, rpcd for LuCI and TR-069, the phone page),
# and hostapd shows that nothing reached it: it made no bootstrap entry and
# sent no DPP frame, and (Debian's hostapd, whose debug output is built in;
# OpenWrt's compiles messages below info out) got no DPP_PKEX_ADD.
. "$LAB_SRC/test/lab/lib.sh"
set -u

ip link set lo up
LAB_HOSTAPD_DEBUG=1
lab_router "config web 'web'" "	option enabled '1'" "	list listen '127.0.0.1:8099'"
base=http://127.0.0.1:8099
api() { curl -sS --unix-socket /tmp/run/trustjoin/api.sock -H 'Content-Type: application/json' "$@"; }

# probe: a bootstrap entry of the test's own; hostapd numbers a new one
# after the highest it holds, so the second probe's id is the first's plus
# one only if no other entry (an onboarding by PKEX makes one and keeps it
# while it waits for the device) was made in between.
probe() {
	local id
	id=$(lab_hostapd_cli dpp_bootstrap_gen type=pkex | tail -1)
	case "$id" in '' | *[!0-9]*) fail "hostapd made no bootstrap entry: $id" ;; esac
	echo "$id"
}
before=$(probe)
lines=$(wc -l < "$LAB_OUT/hostapd.log")
inject='abcdef init=1 tcp_addr=127.0.0.1 tcp_port=7999 identifier=evil x'
failures=()
expect() { # expect WHAT FILE TEXT: the reply in FILE says TEXT
	grep -qF -- "$3" "$2" || failures+=("$1 was not refused with \"$3\": $(head -c 300 "$2")")
}

say "the CLI refuses an injected PKEX code, identifier and name before calling the daemon"
tj onboard --pkex "$inject" --wait=false > "$LAB_OUT/attack-cli.log" 2>&1
echo "exit $?" >> "$LAB_OUT/attack-cli.log"
expect "CLI code" "$LAB_OUT/attack-cli.log" "the PKEX code holds a space"
expect "CLI exit status" "$LAB_OUT/attack-cli.log" "exit 2"
tj onboard --pkex abcdef --id 'plug code=x init=1' --wait=false > "$LAB_OUT/attack-cli-id.log" 2>&1
expect "CLI identifier" "$LAB_OUT/attack-cli-id.log" "the PKEX identifier holds a space"

say "the local API refuses them, and a NUL"
api --data "$(jq -nc --arg c "$inject" '{method: "pkex", code: $c}')" http://trustjoin/v1/onboard > "$LAB_OUT/attack-api.log"
expect "API code" "$LAB_OUT/attack-api.log" "the PKEX code holds a space"
api --data '{"method":"pkex","code":"abcdef\u0000 init=1"}' http://trustjoin/v1/onboard > "$LAB_OUT/attack-api-nul.log"
expect "API NUL" "$LAB_OUT/attack-api-nul.log" "the PKEX code holds a control character (U+0000)"

say "rpcd (LuCI, TR-069) refuses them"
echo '{"method":"pkex","code":"abcdef\u0000 init=1","name":"plug"}' |
	owrt trustjoin rpcd call onboard > "$LAB_OUT/attack-rpcd.log"
expect "rpcd NUL" "$LAB_OUT/attack-rpcd.log" "the PKEX code holds a control character (U+0000)"
jq -nc --arg c "$inject" '{method: "pkex", code: $c}' |
	owrt trustjoin rpcd call onboard > "$LAB_OUT/attack-rpcd-space.log"
expect "rpcd code" "$LAB_OUT/attack-rpcd-space.log" "the PKEX code holds a space"

say "the phone page's server refuses them (the page itself does too: test/ui/phone)"
link=$(tj phone --json | jq -r .url)
code=$(curl -sS -L -c /tmp/phone.jar -b /tmp/phone.jar -o /tmp/page.html -w '%{http_code}' "$link")
[ "$code" = 200 ] || fail "opening the phone link: HTTP $code"
csrf=$(sed -n 's/.*name="csrf-token" content="\([^"]*\)".*/\1/p' /tmp/page.html)
curl -sS -b /tmp/phone.jar -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" -H "Origin: $base" \
	-H 'Sec-Fetch-Site: same-origin' --data "$(jq -nc --arg c "$inject" '{method: "pkex", code: $c}')" \
	"$base/api/onboard" > "$LAB_OUT/attack-phone.log"
expect "phone page code" "$LAB_OUT/attack-phone.log" "The pairing code must be 6 to 64 letters"

say "nothing reached hostapd: no bootstrap entry was made, it sent no DPP frame (PKEX with init=1 would)"
after=$(probe)
tail -n +"$lines" "$LAB_OUT/hostapd.log" > "$LAB_OUT/hostapd-during-attack.log"
if grep -q 'DPP: Initiating PKEX\|DPP-TX \|DPP-PKEX' "$LAB_OUT/hostapd-during-attack.log"; then
	failures+=("hostapd started PKEX itself: init=1 reached it inside a code")
fi
[ "$after" = $((before + 1)) ] || failures+=("hostapd made $((after - before - 1)) bootstrap entries between the probes")
if [ "$LAB_HOSTAPD" = debian ]; then
	# hostapd logs each command it receives as a hex dump; DPP_PKEX_ADD's
	# first bytes are 44 50 50 5f 50 4b 45 58.
	if grep -q 'RX ctrl_iface.*' "$LAB_OUT/hostapd-during-attack.log" &&
		grep -q '44 50 50 5f 50 4b 45 58 5f 41 44 44' "$LAB_OUT/hostapd-during-attack.log"; then
		failures+=("hostapd received DPP_PKEX_ADD")
	fi
	grep -q 'RX ctrl_iface' "$LAB_OUT/hostapd-during-attack.log" || fail "hostapd's debug log shows no command at all: the check above proves nothing"
fi
if [ ${#failures[@]} -gt 0 ]; then
	printf '  %s\n' "${failures[@]}"
	fail "hostile input reached hostapd or was not refused"
fi
grep -q 'onboarding queued' "$LAB_OUT/trustjoin.log" && fail "trustjoin queued an onboarding with a hostile code"

say "a code hostapd takes as itself still goes through, punctuation and all"
tj onboard --pkex 'Plug-7f3a!#%' --id plug1 --wait=false > "$LAB_OUT/attack-good.log" 2>&1 ||
	{ cat "$LAB_OUT/attack-good.log"; fail "a good PKEX code was refused"; }
lab_wait 10 grep -q 'onboarding queued' "$LAB_OUT/trustjoin.log" || fail "the good code did not start an onboarding"
# A PKEX onboarding makes a bootstrap entry of its own in hostapd.
got_it() { [ "$(probe)" -gt $((after + 1)) ]; }
lab_wait 20 got_it || fail "hostapd never got the good code"
if [ "$LAB_HOSTAPD" = debian ]; then
	lab_wait 10 grep -q '44 50 50 5f 50 4b 45 58 5f 41 44 44' "$LAB_OUT/hostapd.log" || fail "hostapd never got the good code"
fi
say "attack: OK"
