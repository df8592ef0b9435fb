#!/usr/bin/env bash
# Builds the firewall and segment test binaries here and runs them in the
# lab VM, whose Debian kernel has 802.1Q and nft_meta_bridge (the bridge
# table's meta ibrname path, as on OpenWrt with kmod-nft-bridge).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
mkdir -p .build/lab-tests
for p in firewall segment; do
	CGO_ENABLED=0 GOTOOLCHAIN=local go test -c -o ".build/lab-tests/$p.test" "./src/internal/$p"
done
# The MUD corpus lives beside the checkout, out of the VM's reach: a copy.
rm -rf .build/lab-tests/mud-corpus
cp -r ../shared/mud-corpus .build/lab-tests/mud-corpus
TJ_BIN=none exec scripts/lab/run.sh --out .build/lab/firewall test/lab/firewall/run-tests.sh
