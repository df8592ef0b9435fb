# The OpenWrt targets trustjoin is built for: <openwrt arch> <GOARCH> <extra env>.
# Sourced by cross.sh and ipk.sh. MIPS must be softfloat: OpenWrt's MIPS
# kernels have no FPU emulation and Go's default hardfloat binaries die with
# "Illegal instruction".
# Build tags of every binary shipped: nethttpomithttp2 leaves HTTP/2 out of
# net/http (0.59 MB of 10.8 on mipsel). Nothing trustjoin serves or fetches
# needs it: the phone pages and the API socket are plain HTTP/1.1, and MUD
# servers answer HTTP/1.1 as well. net/http itself is no longer in the
# daemon (package httpd serves and reads HTTP/1.1); the tag keeps HTTP/2
# out should anything bring it back.
GOTAGS=nethttpomithttp2
# Compiler flags of every binary shipped: no inlining in the packages named
# in NOINLINE. They are the control plane: trustjoin's own packages (events,
# configuration, netlink requests), the other modules (nftables, netlink,
# conntrack, nl80211, x/net) and the parts of the standard library that
# parse, format and shake hands (TLS and X.509 handshakes, HTTP, JSON,
# slog, fmt), where a call costs nothing that matters; and the cold helpers
# around them (strconv, bufio, sort, flags, encodings, paths, gzip). Inlining shows in
# the binary twice: the copied code and the tables that let a traceback name
# the inlined frames. The runtime, sync, the I/O path (os, syscall, net,
# internal/poll) and the crypto primitives keep it. On mipsel_24kc:
# trustjoin's own packages 0.26 MB, the rest of the list 0.46 MB more
# (README, Size). GOGCFLAGS is the list as go build's flags, one -gcflags
# per pattern (one -gcflags holds a single pattern).
NOINLINE="github.com/... golang.org/x/... crypto/tls crypto/x509 encoding/asn1
vendor/golang.org/x/crypto/cryptobyte net/http mime net/url encoding/json log/slog fmt
math/big crypto/elliptic time net/netip
strconv flag os/exec encoding/base64 encoding/hex encoding/pem compress/flate compress/gzip
mime/multipart net/textproto bufio sort context errors io/fs path/filepath os/user
text/tabwriter encoding/binary hash/crc32 html unicode"
GOGCFLAGS=$(for p in $NOINLINE; do printf -- '-gcflags=%s=-l ' "$p"; done)
TARGETS="
mips_24kc                 mips   GOMIPS=softfloat
mipsel_24kc               mipsle GOMIPS=softfloat
arm_cortex-a7             arm    GOARM=5
arm_cortex-a7_neon-vfpv4  arm    GOARM=7
aarch64_cortex-a53        arm64  -
x86_64                    amd64  GOAMD64=v1
"
