#!/bin/bash
# lab: radios=3 timeout=360
# The authorisation hook (NIST SP 1800-36 S4.C1–C3, S1.C2): a program asked
# before a device gets a credential, with what is known of it as JSON and no
# secret. Here it denies one device (no credential, nothing written, the
# household told), sends another to segment guest, and later, asked again
# periodically, withdraws a device's credential.
. "$LAB_SRC/test/lab/lib.sh"
set -u

hooks=/tmp/tj/hooks
mkdir -p "$hooks"
# The hook keeps what it was told, and decides by the name and a file.
cat > "$hooks/authorize" <<'HOOK'
#!/bin/sh
in=$(cat)
echo "$in" >> /tmp/tj/hooks/asked.jsonl
# Revocation first: the periodic check of a device it once moved must
# be able to withdraw it.
if [ -e /tmp/tj/hooks/revoke ] && echo "$in" | grep -q '"when":"periodic"'; then
	echo '{"decision":"deny","reason":"attestation revoked"}'
	exit 0
fi
case "$in" in
*'"name":"rogue"'*) echo '{"decision":"deny","reason":"not on the attestation list"}' ;;
*'"name":"tv"'*) echo '{"decision":"segment","segment":"guest","reason":"unknown maker"}' ;;
*) echo '{"decision":"allow"}' ;;
esac
HOOK
chmod 700 "$hooks/authorize"
lab_router "config authorize 'authorize'" "	option hook '$hooks/authorize'" "	option interval '60'"

say "a device the hook denies is refused a credential"
lab_start_sta wlan1
uri=$(lab_dpp_qr wlan1)
out=$(tj onboard --qr "$uri" --name rogue --segment iot 2>&1) && fail "onboarding a denied device succeeded: $out"
echo "$out" | tee -a "$LAB_OUT/cli.log"
echo "$out" | grep -q "not on the attestation list" || fail "the refusal does not give the hook's reason: $out"
[ -s "$psk" ] && fail "a credential was written for a denied device: $(cat "$psk")"
# Refused before any exchange: the device was given no network to join.
[ -z "$(lab_wpa_cli wlan1 list_networks | tail -n +2)" ] || fail "the denied device was given a network"
lab_sta_connected wlan1 && fail "the denied device connected"
tj events | tee -a "$LAB_OUT/cli.log" | grep -q "hook-denied: the authorisation hook refused rogue a credential: not on the attestation list" ||
	fail "no security event for the denial"
grep -q '"dpp_key_hash":"[0-9a-f]\{64\}"' "$hooks/asked.jsonl" || fail "the hook was not told the device's DPP key hash"
grep -qi 'passphrase\|"psk"' "$hooks/asked.jsonl" && fail "the hook was told a secret"

say "a device the hook moves lands in segment guest"
lab_start_sta wlan2
mac2=$(lab_mac wlan2)
uri=$(lab_dpp_qr wlan2)
tj onboard --qr "$uri" --name tv --segment iot || fail "onboarding the tv failed"
lab_wait 60 lab_sta_connected wlan2 || fail "the tv did not connect"
lab_wait 10 grep -q "Assigned VLAN ID 30 from wpa_psk_file to $mac2" "$LAB_OUT/hostapd.log" || fail "the tv is not in guest's VLAN 30"
tj device tv | tee -a "$LAB_OUT/cli.log" | grep -q "segment: guest" || fail "the registry does not say guest"

say "asked again periodically, a hook that now denies withdraws the credential"
touch "$hooks/revoke"
revoked() { tj events | grep -q 'hook-denied: the authorisation hook denied tv on its periodic check: attestation revoked'; }
lab_wait 90 revoked ||
	{ tj events; fail "the periodic check did not withdraw the tv's credential"; }
lab_wait 20 grep -q "AP-STA-DISCONNECTED $mac2" "$LAB_OUT/hostapd.log" || fail "the tv was not disconnected"
tj device tv 2>&1 | tee -a "$LAB_OUT/cli.log"
