#!/bin/sh
# vendor.sh VENDOR [ROOT]: checks VENDOR and renames trustjoin's TR-181 subtree in an installed
# tree ROOT from Device.X_TRUSTJOIN_TrustJoin. to Device.X_<VENDOR>_TrustJoin.
# (bbfdm plugin and easycwmp script). VENDOR follows TR-106: the ISP's OUI
# as six upper-case hex digits (00D09E) or its domain in upper case with
# dots as - or _ (EXAMPLE-COM). The shipped files are generated for
# TRUSTJOIN (src/internal/tr069); the vendor occurs only in the subtree's
# name, so renaming is generating for VENDOR (a Go test holds this true).
set -eu
vendor=${1-}
root=${2-}
if ! printf '%s\n' "$vendor" | grep -Eqx '[0-9A-F]{6}|[A-Z0-9][A-Z0-9_-]*[A-Z0-9]'; then
	echo "vendor.sh: VENDOR '$vendor': want an OUI (six upper-case hex digits) or an upper-case domain like EXAMPLE-COM (TR-106)" >&2
	exit 2
fi
[ -n "$root" ] && [ "$vendor" != TRUSTJOIN ] || exit 0
plugin=$root/usr/share/bbfdm/plugins/X_TRUSTJOIN_TrustJoin.json
script=$root/usr/share/easycwmp/functions/trustjoin
for f in "$plugin" "$script"; do
	[ -f "$f" ] || { echo "vendor.sh: $f is missing" >&2; exit 1; }
done
sed "s/X_TRUSTJOIN_TrustJoin/X_${vendor}_TrustJoin/g" "$plugin" > "${plugin%/*}/X_${vendor}_TrustJoin.json"
rm "$plugin"
sed -i "s/X_TRUSTJOIN_TrustJoin/X_${vendor}_TrustJoin/g" "$script"
