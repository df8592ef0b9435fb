#!/bin/sh
# Prints the package version, valid for both opkg and apk:
# <major>.<minor>.<patch>-r<n>, plus ~<git hash> for an untagged build.
# A tag vX.Y.Z on HEAD gives X.Y.Z-r1; otherwise the last tag (or 0.1.0)
# with the commit count since it as the release and the hash.
cd "$(dirname "$0")/../.." || exit 1
if tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null); then
	echo "${tag#v}-r1"
	exit 0
fi
base=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || echo v0.1.0)
count=$(git rev-list --count HEAD 2>/dev/null || echo 0)
hash=$(git rev-parse --short=8 HEAD 2>/dev/null || echo 0)
echo "${base#v}-r${count}~${hash}"
