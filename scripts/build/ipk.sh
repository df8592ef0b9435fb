#!/usr/bin/env bash
# Builds installable OpenWrt packages without the SDK into .build/ipk/ (or
# $IPK_OUT): trustjoin for every target and luci-app-trustjoin (all).
#
# opkg (opkg-lede since 2017) reads an .ipk as a gzip-compressed tar holding
# ./debian-binary, ./control.tar.gz and ./data.tar.gz, not as an ar archive;
# this is what OpenWrt's scripts/ipkg-build produces, and so is the rest:
# GNU tar format, sorted, owner 0, fixed mtime, gzip -n, root entries 0755
# (opkg gives / the mode of data.tar's "./"), Installed-Size the size of the
# uncompressed data.tar. The maintainer scripts are the SDK Makefiles'.
#
# IPK_ARCHS="x86_64 ..." builds only those targets; IPK_BIN is where the
# binaries go (default .build/bin), so that tests do not race `make ipk`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/build/targets.sh"
version=${VERSION:-$("$repo/scripts/build/version.sh")}
out=${IPK_OUT:-$repo/.build/ipk}
mtime=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)}
maintainer="trustjoin engineers <trustjoin@lists.invalid>"
# TR-106 vendor prefix of Device.X_<VENDOR>_TrustJoin. (see vendor.sh).
vendor=${VENDOR-}
"$repo/scripts/build/vendor.sh" "$vendor" # fail before building
bin=${IPK_BIN:-$repo/.build/bin}
archs=${IPK_ARCHS:-$(echo "$TARGETS" | awk 'NF {print $1}')}

for a in $archs; do
	VERSION=$version CROSS_OUT=$bin "$repo/scripts/build/cross.sh" "$a" >/dev/null
done
mkdir -p "$out"
rm -f "$out"/*.ipk

tarball() { # DIR OUT.tar.gz
	chmod 0755 "$1"
	tar --format=gnu --numeric-owner --owner=0 --group=0 --sort=name --mtime="@$mtime" \
		-C "$1" -cf - . | gzip -n -9 > "$2"
}

# sdk_script PKG SCRIPT: the SDK Makefile's Package/PKG/SCRIPT, as make
# would write it ($$ is $).
sdk_script() {
	local mk=$repo/package/$1/Makefile
	sed -n "/^define Package\/$1\/$2\$/,/^endef\$/p" "$mk" | sed '1d;$d' | sed 's/\$\$/$/g'
}

# pack NAME ARCH DATA_DIR CONTROL_DIR
pack() {
	local name=$1 arch=$2 data=$3 ctrl=$4 w
	w=$(mktemp -d)
	local size
	tarball "$data" "$w/data.tar.gz"
	# As OpenWrt's ipkg-build: the size of the uncompressed data.tar.
	size=$(gzip -dc < "$w/data.tar.gz" | wc -c)
	sed -i "s/^Installed-Size: .*/Installed-Size: $size/" "$ctrl/control"
	tarball "$ctrl" "$w/control.tar.gz"
	echo 2.0 > "$w/debian-binary"
	tar --format=gnu --numeric-owner --owner=0 --group=0 --mtime="@$mtime" -C "$w" \
		-cf - ./debian-binary ./control.tar.gz ./data.tar.gz | gzip -n -9 > "$out/${name}_${version}_${arch}.ipk"
	rm -rf "$w"
}

# The SDK's maintainer scripts (include/package-pack.mk): default_postinst
# enables and starts the init script on a fresh install (only enables when
# IPKG_INSTROOT is set, i.e. building an image) and then sources
# <pkg>.postinst-pkg, the package's own postinst; default_prerm sources
# <pkg>.prerm-pkg, then stops the service; postrm is the package's own.
# write_scripts DIR PKG
write_scripts() {
	local s
	for s in postinst:postinst-pkg prerm:prerm-pkg postrm:postrm; do
		if [ -n "$(sdk_script "$2" "${s%%:*}")" ]; then
			sdk_script "$2" "${s%%:*}" > "$1/${s#*:}"
			chmod 0755 "$1/${s#*:}"
		fi
	done
	cat > "$1/postinst" <<'S'
#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
S
	cat > "$1/prerm" <<'S'
#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
S
	chmod 0755 "$1/postinst" "$1/prerm"
}

# Depends: DPP needs a full hostapd/wpad build (hostapd-common is in all of
# them; the DPP-capable variants are not expressible as one name, so the
# README says which to install and the daemon reports a missing DPP
# plainly); nftables tables for inet and bridge families; kmod-nft-bridge
# for the bridge table between devices on one bridge; kmod-nfnetlink-log for
# the NFLOG groups the watch after onboarding reads (nft_log and nft_limit
# are in kmod-nft-core).
depends="libc, hostapd-common, nftables, kmod-nft-core, kmod-nft-bridge, kmod-nf-conntrack-netlink, kmod-nfnetlink-log"

for arch in $archs; do
	d=$(mktemp -d) c=$(mktemp -d)
	install -D -m 0755 "$bin/$arch/trustjoin" "$d/usr/bin/trustjoin"
	# Mirror files/: the config is root-only (it will hold secrets), scripts are executable.
	(cd "$repo/files" && find . -type f) | while read -r f; do
		case "$f" in
		./etc/config/*) mode=0600 ;;
		./etc/init.d/* | ./etc/uci-defaults/* | ./etc/hotplug.d/* | ./usr/libexec/*) mode=0755 ;;
		*) mode=0644 ;;
		esac
		install -D -m "$mode" "$repo/files/$f" "$d/${f#./}"
	done
	# The systemd unit is for Debian-based gateways, not OpenWrt.
	rm -rf "$d/lib/systemd"
	"$repo/scripts/build/vendor.sh" "$vendor" "$d"
	# rpcd runs /usr/libexec/rpcd/<object> list|call <method>.
	install -d -m 0755 "$d/usr/libexec/rpcd"
	printf '#!/bin/sh\nexec /usr/bin/trustjoin rpcd "$@"\n' > "$d/usr/libexec/rpcd/trustjoin"
	chmod 0755 "$d/usr/libexec/rpcd/trustjoin"
	cat > "$c/control" <<C
Package: trustjoin
Version: $version
Depends: $depends
Source: package/trustjoin
SourceName: trustjoin
License: Apache-2.0
Section: net
URL: https://github.com/trustjoin/trustjoin
Maintainer: $maintainer
Architecture: $arch
Installed-Size: 0
Description: Trusted onboarding of devices to the home network: Wi-Fi Easy
 Connect (DPP) with a unique credential and VLAN per device, BRSKI join proxy,
 MUD policies compiled to nftables, quarantine.
C
	echo /etc/config/trustjoin > "$c/conffiles"
	write_scripts "$c" trustjoin
	pack trustjoin "$arch" "$d" "$c"
	rm -rf "$d" "$c"
done

# luci-app-trustjoin: architecture independent.
d=$(mktemp -d) c=$(mktemp -d)
for part in htdocs:www root:; do
	src=$repo/luci-app/${part%%:*} dst=${part#*:}
	[ -d "$src" ] || continue
	(cd "$src" && find . -type f) | while read -r f; do
		mode=0644
		case "$f" in ./usr/libexec/* | ./etc/uci-defaults/*) mode=0755 ;; esac
		install -D -m "$mode" "$src/$f" "$d/${dst:+$dst/}${f#./}"
	done
done
# The Status page compares its own version with the daemon's.
status_js=$d/www/luci-static/resources/view/trustjoin/status.js
if [ -f "$status_js" ]; then
	sed -i "s/^var APP_VERSION = '[^']*';/var APP_VERSION = '$version';/" "$status_js"
	grep -q "^var APP_VERSION = '$version';" "$status_js" || { echo "ipk.sh: could not stamp $status_js" >&2; exit 1; }
fi
cat > "$c/control" <<C
Package: luci-app-trustjoin
Version: $version
Depends: libc, luci-base, trustjoin
Source: luci-app
SourceName: luci-app-trustjoin
License: Apache-2.0
Section: luci
URL: https://github.com/trustjoin/trustjoin
Maintainer: $maintainer
Architecture: all
Installed-Size: 0
Description: LuCI pages for trustjoin: add devices by QR code, PKEX code or
 phone; see, move, quarantine and remove them.
C
write_scripts "$c" luci-app-trustjoin
pack luci-app-trustjoin all "$d" "$c"
rm -rf "$d" "$c"
ls -1 "$out"
