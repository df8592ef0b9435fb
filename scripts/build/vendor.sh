#!/bin/sh
# vendor.sh VENDOR [ROOT]: checks VENDOR and names trustjoin's TR-181 subtree
# after it in an installed tree ROOT: Device.X_<VENDOR>_TrustJoin. (bbfdm
# plugin and easycwmp script).
#
# VENDOR follows TR-106: the ISP's OUI as six upper-case hex digits (00D09E)
# or a domain it owns in upper case with its dots as - or _ (EXAMPLE-COM).
# trustjoin has neither, so there is no default: without VENDOR the TR-069
# files are left out of ROOT (a router without an ACS needs none), and a
# VENDOR that is neither (TRUSTJOIN, example.com) fails the build.
#
# The shipped files are generated for the placeholder TRUSTJOIN
# (src/internal/tr069); the vendor occurs only in the subtree's name, so
# renaming is generating for VENDOR (a Go test holds this true).
set -eu
vendor=${1-}
root=${2-}
plugin=usr/share/bbfdm/plugins/X_TRUSTJOIN_TrustJoin.json
script=usr/share/easycwmp/functions/trustjoin
if [ -z "$vendor" ]; then
	echo "vendor.sh: no VENDOR: the TR-069 data model (bbfdm, easycwmp) is left out; an ISP builds with VENDOR=<its OUI or DOMAIN> (TR-106), e.g. VENDOR=00D09E" >&2
	[ -n "$root" ] || exit 0
	rm -f "$root/$plugin" "$root/$script"
	for d in usr/share/bbfdm/plugins usr/share/bbfdm usr/share/easycwmp/functions usr/share/easycwmp usr/share; do
		rmdir "$root/$d" 2>/dev/null || true
	done
	exit 0
fi
if ! printf '%s\n' "$vendor" | grep -Eqx '[0-9A-F]{6}|[A-Z0-9]+([_-][A-Z0-9]+)+'; then
	echo "vendor.sh: VENDOR '$vendor': want the ISP's OUI (six upper-case hex digits, like 00D09E) or a domain it owns in upper case, dots as '-' (like EXAMPLE-COM) (TR-106)" >&2
	exit 2
fi
[ -n "$root" ] || exit 0
for f in "$plugin" "$script"; do
	[ -f "$root/$f" ] || { echo "vendor.sh: $root/$f is missing" >&2; exit 1; }
done
sed "s/X_TRUSTJOIN_TrustJoin/X_${vendor}_TrustJoin/g" "$root/$plugin" > "$root/${plugin%/*}/X_${vendor}_TrustJoin.json"
rm "$root/$plugin"
sed -i "s/X_TRUSTJOIN_TrustJoin/X_${vendor}_TrustJoin/g" "$root/$script"
