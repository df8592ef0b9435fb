#!/usr/bin/env bash
# Prints the stripped size of every target's binary and of every .ipk,
# against the budget (a figure, never a failure).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
[ -d "$repo/.build/ipk" ] && ls "$repo"/.build/ipk/*.ipk >/dev/null 2>&1 || "$repo/scripts/build/ipk.sh" >/dev/null
mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB", b / 1000000 }'; }
printf '%-28s %12s %12s\n' target binary "gzip -9"
for b in "$repo"/.build/bin/*/trustjoin; do
	arch=$(basename "$(dirname "$b")")
	printf '%-28s %12s %12s\n' "$arch" "$(mb "$(stat -c %s "$b")")" "$(mb "$(gzip -9 -c "$b" | wc -c)")"
done
echo
printf '%-56s %12s\n' package size
for p in "$repo"/.build/ipk/*.ipk; do
	printf '%-56s %12s\n' "$(basename "$p")" "$(mb "$(stat -c %s "$p")")"
done
echo
mipsel=$(stat -c %s "$repo/.build/bin/mipsel_24kc/trustjoin")
echo "budget: mipsel_24kc daemon within 1 MB of the ~8.1 MB floor (≤ 9.1 MB): now $(mb "$mipsel");" \
	"each .ipk at most 3.2 MB."
