#!/bin/bash
# The tests that need kernel parts this machine kind lacks, in the lab VM,
# whose Debian kernel has them (they skip elsewhere): 802.1Q VLANs (segment
# plumbing: uplink VLAN interfaces, tagged frames) and flowtables (fw4's
# flow offloading beside trustjoin's firewall):
#   test/blackbox/lab-kernel.sh
# On the host it builds the test binaries into .build/lab-kernel/ and boots
# the VM with itself as the scenario; in the VM it runs them.
# lab: radios=1 timeout=300
set -euo pipefail
if [ -z "${LAB_OUT:-}" ]; then
	cd "$(dirname "$0")/../.."
	b=.build/lab-kernel
	mkdir -p "$b"
	export GOTOOLCHAIN=local CGO_ENABLED=0
	go build -o "$b/trustjoin" -ldflags "-X github.com/trustjoin/trustjoin/src/internal/build.Version=9.8.7-r6" ./src/cmd/trustjoin
	go test -c -o "$b/segment.test" ./src/internal/segment
	go test -c -o "$b/blackbox.test" ./test/blackbox
	go test -c -o "$b/firewall.test" ./src/internal/firewall
	exec env TJ_BIN="$b/trustjoin" scripts/lab/run.sh test/blackbox/lab-kernel.sh
fi
b=$LAB_SRC/.build/lab-kernel
rc=0
echo "== segment package, with 802.1Q"
(cd "$LAB_SRC/src/internal/segment" && "$b/segment.test" -test.v -test.count=1) || rc=1
echo "== black-box segment plumbing, with 802.1Q"
(cd "$LAB_SRC/test/blackbox" && TJ_BLACKBOX_BIN="$TJ_BIN" "$b/blackbox.test" -test.v -test.count=1 -test.run 'Segment') || rc=1
echo "== firewall beside fw4's flow offloading; rendered rules against the kernel's, with meta ibrname"
(cd "$LAB_SRC/src/internal/firewall" && "$b/firewall.test" -test.v -test.count=1 -test.run 'Offloaded|RenderMatchesKernel') || rc=1
# A skip here would hide the very tests this run is for.
if grep -q -- '--- SKIP' "$LAB_OUT/scenario.log"; then
	echo "FAIL: a test skipped in the lab VM"
	rc=1
fi
exit $rc
