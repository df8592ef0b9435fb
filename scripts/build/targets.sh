# The OpenWrt targets trustjoin is built for: <openwrt arch> <GOARCH> <extra env>.
# Sourced by cross.sh and ipk.sh. MIPS must be softfloat: OpenWrt's MIPS
# kernels have no FPU emulation and Go's default hardfloat binaries die with
# "Illegal instruction".
# Build tags of every binary shipped: nethttpomithttp2 leaves HTTP/2 out of
# net/http (0.59 MB of 10.8 on mipsel). Nothing trustjoin serves or fetches
# needs it: the phone pages and the API socket are plain HTTP/1.1, and MUD
# servers answer HTTP/1.1 as well.
GOTAGS=nethttpomithttp2
# Compiler flags of every binary shipped: no inlining in trustjoin's own
# packages (0.2 MB of 9.0 on mipsel). Their work is the control plane
# (events, configuration, netlink requests), where a call costs nothing
# that matters; the standard library and the other modules keep inlining.
GOGCFLAGS='github.com/trustjoin/trustjoin/...=-l'
TARGETS="
mips_24kc                 mips   GOMIPS=softfloat
mipsel_24kc               mipsle GOMIPS=softfloat
arm_cortex-a7             arm    GOARM=5
arm_cortex-a7_neon-vfpv4  arm    GOARM=7
aarch64_cortex-a53        arm64  -
x86_64                    amd64  GOAMD64=v1
"
