#!/bin/bash
# lab: radios=1 timeout=1500
# Runs the firewall and segment test binaries (built on the host by
# scripts/lab/firewall.sh into .build/lab-tests) on the lab's Debian
# kernel, which has what this machine's kernel lacks: 802.1Q and
# nft_meta_bridge (meta ibrname, as OpenWrt's kmod-nft-bridge).
set -u -o pipefail
bin=$LAB_SRC/.build/lab-tests
[ -x "$bin/firewall.test" ] || { echo "no test binaries: run scripts/lab/firewall.sh"; exit 1; }
# The guest loads no module by itself (modprobe needs the kernel share).
for m in veth bridge 8021q nf_conntrack nf_conntrack_netlink nf_tables nft_ct nft_fib nft_fib_inet \
	nft_fib_ipv4 nft_fib_ipv6 nft_meta_bridge nft_objref; do
	modprobe -d "$LAB_KROOT" "$m" 2>/dev/null || echo "note: modprobe $m failed (built in?)"
done
mkdir -p /var/run/netns
# Takes about 15 minutes under emulation (software, 2 shared cores).
# Emulation is slow: flows get longer to prove themselves.
export TJ_FLOW_TIMEOUT=3s TJ_MUD_CORPUS=$bin/mud-corpus
rc=0
cd "$LAB_SRC/src/internal/segment" && "$bin/segment.test" -test.v -test.count=1 || rc=1
cd "$LAB_SRC/src/internal/firewall" && "$bin/firewall.test" -test.v -test.count=1 -test.timeout=1400s \
	${LAB_TEST_RUN:+-test.run "$LAB_TEST_RUN"} 2>&1 | grep --line-buffered -v 'level=DEBUG' || rc=1
exit $rc
