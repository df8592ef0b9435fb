#!/usr/bin/env bash
# Builds stripped trustjoin binaries for every OpenWrt target into
# .build/bin/<openwrt-arch>/trustjoin ($CROSS_OUT/<openwrt-arch>/ if set);
# with an argument, for that target only.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/build/targets.sh"
version=${VERSION:-$("$repo/scripts/build/version.sh")}
only=${1:-}
out=${CROSS_OUT:-.build/bin}
cd "$repo"
echo "$TARGETS" | while read -r arch goarch extra; do
	[ -n "$arch" ] || continue
	[ -z "$only" ] || [ "$only" = "$arch" ] || continue
	mkdir -p "$out/$arch"
	env=(CGO_ENABLED=0 GOTOOLCHAIN=local GOOS=linux GOARCH="$goarch")
	[ "$extra" = - ] || env+=("$extra")
	env "${env[@]}" go build -trimpath -tags "$GOTAGS" $GOGCFLAGS \
		-ldflags "-s -w -X github.com/trustjoin/trustjoin/src/internal/build.Version=$version" \
		-o "$out/$arch/trustjoin" ./src/cmd/trustjoin
	echo "built $out/$arch/trustjoin ($goarch ${extra/-/})"
done
