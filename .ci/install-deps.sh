#!/usr/bin/env bash
# Installs everything the build and tests need on a fresh Debian machine.
# Used by .ci/run and `make deps`; safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
apt-get install -y -q --no-install-recommends \
	qemu-system-x86 busybox-static cpio kmod \
	hostapd wpasupplicant iw \
	nftables iproute2 conntrack \
	binutils file ca-certificates openssl bc python3 jq curl \
	chromium \
	cmake pkg-config gcc make libjson-c-dev zlib1g-dev libmd-dev libcrypt-dev \
	autoconf automake libcurl4-openssl-dev libssl-dev patch
# (the last two lines build OpenWrt's userland for test/openwrt and the
# TR-069 agents for test/tr069: scripts/openwrt/build.sh; autotools for
# easycwmp and microxml, libcurl and OpenSSL headers for both; patch for
# the OpenWrt patches a recipe applies, owrt_patches)
# Peers of the BRSKI join proxy that are not trustjoin's code: registrar
# announcements built with Python's cbor2 and dnspython, libcoap's CoAP
# client and DTLS server as constrained pledge and registrar.
apt-get install -y -q --no-install-recommends python3-cbor2 python3-dnspython libcoap3-bin
# node and npm for the real-browser tests (test/ui), unless installed already.
command -v npm >/dev/null 2>&1 || apt-get install -y -q --no-install-recommends nodejs npm

# staticcheck, pinned; it builds with the local Go.
if ! command -v staticcheck >/dev/null 2>&1; then
	GOTOOLCHAIN=local go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
