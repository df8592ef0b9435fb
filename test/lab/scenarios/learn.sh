#!/bin/bash
# lab: radios=2 timeout=420
# Learn, then lock: a camera without a MUD file is onboarded into segment
# iot, which learns such devices (a minute here). What it uses while
# learned, TCP to 203.0.113.10 port 8080, is offered as a profile in MUD
# form; approved, it is enforced like a maker's MUD file: 8080 still
# works, 9090, which the segment allowed, no longer does.
. "$LAB_SRC/test/lab/lib.sh"
set -u

lab_internet


# tj_mud ARGS: trustjoin mud on the router (its configuration is the
# router's /etc/config/trustjoin).
tj_mud() { tj mud "$@"; }

lab_router \
	"config segment 'iot'" "	option vlan '20'" "	option internet '1'" "	option isolate '1'" "	option learn '60'" \
	"config segment 'quarantine'" "	option vlan '99'" "	option quarantine '1'"

say "a camera without a MUD file is onboarded into iot and learned"
lab_camera_iot
tj_mud learn camera --explain | tee -a "$LAB_OUT/cli.log" | grep -q "being learned" || fail "the camera is not being learned"

say "while learned it uses 203.0.113.10:8080 (the segment allows the internet)"
reaches_8080() { [ "$(lab_reach 8080)" = open-8080 ]; }
lab_wait 20 reaches_8080 || fail "the camera cannot reach 8080 while learned"
for i in 1 2 3; do lab_reach 8080 >/dev/null; done
seen() { tj_mud learn camera --explain | grep -q "connects to 203.0.113.10 on TCP port 8080"; }
lab_wait 20 seen || { tj_mud learn camera --explain; fail "the profile does not show what the camera used"; }

say "the learning period ends; the profile is offered in MUD form and in plain words"
done_learning() { ! tj_mud learn camera --explain | grep -q "being learned"; }
lab_wait 90 done_learning || fail "the learning period did not end"
tj_mud learn camera --explain | tee -a "$LAB_OUT/cli.log"
tj_mud learn camera > "$LAB_OUT/learned.json" || fail "no profile in MUD form"
"$TJ_BIN" mud check "$LAB_OUT/learned.json" | tee -a "$LAB_OUT/cli.log" | grep -q "^ACCEPTED" || fail "trustjoin's own MUD checker does not accept the profile"
grep -q '"destination-ipv4-network": "203.0.113.10/32"' "$LAB_OUT/learned.json" || fail "the profile lacks the destination"

say "before approval the segment's default holds: 9090 works"
[ "$(lab_reach 9090)" = open-9090 ] || fail "9090 was blocked before the profile was approved"

say "approved, it is enforced like a maker's MUD file"
tj_mud learn camera --approve | tee -a "$LAB_OUT/cli.log" || fail "approving the profile failed"
enforced() { tj device camera --json | grep -q '"status": "enforced"'; }
lab_wait 30 enforced || { tj device camera; fail "the learned profile is not enforced"; }
lab_wait 20 reaches_8080 || fail "the camera no longer reaches what it was learned using"
got=$(lab_reach 9090)
[ -z "$got" ] || fail "the camera still reaches 9090, which it never used (got '$got')"
say "locked to what it was learned using"
