# hostapd: OpenWrt's hostapd as its packages build it, from upstream at the
# exact commit OpenWrt main uses (hostapd.tar.gz; SOURCES.txt) with OpenWrt's
# src/ overlay (ubus and ucode control, radius) and patches, in two variants:
#   wpad-openssl        the full variant (hostapd-full.config, DPP, SAE, OWE,
#                       CONFIG_FULL_DYNAMIC_VLAN ...): /usr/sbin/wpad, a
#                       multicall binary, with hostapd and wpa_supplicant
#                       links to it, as OpenWrt's package installs it
#   hostapd-basic-openssl  the basic variant (hostapd-basic.config: no DPP,
#                       no CONFIG_FULL_DYNAMIC_VLAN), hostapd alone:
#                       /usr/sbin/hostapd-basic (the lab mounts it over
#                       /usr/sbin/hostapd for its basic-hostapd scenario)
# The make options are the package Makefile's DRIVER_MAKEOPTS for an x86_64
# image (whose mac80211 drivers select 11ac/ax/be support), OpenSSL being the
# TLS library Debian has in the version OpenWrt uses (3.x). Also installed:
# hostapd_cli, and hostapd.uc / wpa_supplicant.uc, the ucode the binary runs
# (the release scripts' own copies must not replace them: they drive this
# binary's ucode API).
deps="libubox ubus ucode libnl-tiny udebug"
extra_archives="openwrt"
apt="gcc make pkg-config libssl-dev libjson-c-dev"

HOSTAPD_PKG=package/network/services/hostapd

# hostapd_make DIR TARGETS...: the package Makefile's Build/RunMake.
hostapd_make() {
	local dir=$1
	shift
	make -j"$JOBS" -C "$dir" CC=gcc AR=gcc-ar BCHECK= \
		"${MAKEOPTS[@]}" LIBS="$LIBS" LIBS_c="$LIBS_C" "$@"
}

# hostapd_tree DIR: upstream unpacked, OpenWrt's src/ copied over it, then its
# patches, as OpenWrt's Build/Prepare/Default does.
hostapd_tree() {
	mkdir -p "$1"
	cp -a "$HOSTAPD_SRC/." "$1/"
	cp -a "$OPENWRT/$HOSTAPD_PKG/src/." "$1/"
	(cd "$1" && owrt_patches "$HOSTAPD_PKG")
}

build() {
	local pkg=$OPENWRT/$HOSTAPD_PKG common cflags
	# Each variant in a tree of its own beside the unpacked source.
	HOSTAPD_SRC=$PWD
	cd ..
	# TARGET_CPPFLAGS and TARGET_LDFLAGS of the package Makefile.
	common="-I$DEST/usr/include -I$DEST/usr/include/libnl-tiny -DCONFIG_LIBNL20 -D_GNU_SOURCE -DCONFIG_MSG_MIN_PRIORITY=3"
	cflags="$OWRT_CFLAGS -ffunction-sections -fdata-sections"
	LIBS="-L$DEST/usr/lib -Wl,-rpath-link,$DEST/usr/lib -Wl,--gc-sections -lubox -lubus -lblobmsg_json -lucode -lm -lnl-tiny -ludebug -lcrypto -lssl"
	LIBS_C="-L$DEST/usr/lib -Wl,-rpath-link,$DEST/usr/lib"

	# The full variant, wpad-openssl: hostapd and wpa_supplicant built with
	# one set of CFLAGS (each Makefile's, unioned: Build/Compile/wpad) into
	# one multicall binary.
	MAKEOPTS=(CONFIG_ACS=y CONFIG_DRIVER_NL80211=y CONFIG_IEEE80211AC=y CONFIG_IEEE80211AX=y
		CONFIG_IEEE80211BE=y CONFIG_MBO=y CONFIG_UCODE=y CONFIG_APUP=y CONFIG_OCV=y
		CONFIG_TLS=openssl CONFIG_SAE=y
		CONFIG_OWE=y CONFIG_SUITEB192=y CONFIG_AP=y CONFIG_MESH=y CONFIG_EAP_PWD=y CONFIG_DPP=y CONFIG_DPP2=y)
	hostapd_tree full
	cp "$pkg/files/hostapd-full.config" full/hostapd/.config
	cp "$pkg/files/wpa_supplicant-full.config" full/wpa_supplicant/.config
	local all
	all=$(CFLAGS="$common $cflags" hostapd_make full/hostapd -s MULTICALL=1 dump_cflags
		CFLAGS="$common $cflags" hostapd_make full/wpa_supplicant -s MULTICALL=1 dump_cflags)
	all=${all//-n /}
	all=${all//"$cflags"/}
	# Quoted values (-DTLS_DEFAULT_CIPHERS="...") go through the recipes'
	# shells once more: escaped, as the package Makefile's sed does.
	all="${all//\"/\\\"} $cflags"
	CFLAGS="$all" hostapd_make full/hostapd CFLAGS="$all" MULTICALL=1 hostapd_cli hostapd_multi.a
	CFLAGS="$all" hostapd_make full/wpa_supplicant CFLAGS="$all" MULTICALL=1 wpa_cli wpa_supplicant_multi.a
	gcc $cflags -o full/wpad "$pkg/files/multicall.c" \
		full/hostapd/hostapd_multi.a full/wpa_supplicant/wpa_supplicant_multi.a $LIBS

	# The basic variant, hostapd-basic-openssl.
	MAKEOPTS=(CONFIG_ACS=y CONFIG_DRIVER_NL80211=y CONFIG_IEEE80211AC=y CONFIG_IEEE80211AX=y
		CONFIG_IEEE80211BE=y CONFIG_MBO=y CONFIG_UCODE=y CONFIG_APUP=y CONFIG_OCV=y
		CONFIG_TLS=openssl CONFIG_SAE=y CONFIG_OWE=y)
	hostapd_tree basic
	cp "$pkg/files/hostapd-basic.config" basic/hostapd/.config
	CFLAGS="$common $cflags" hostapd_make basic/hostapd hostapd

	# Installed as Package/wpad/install and Package/hostapd-utils/install do.
	install -D -m 0755 full/wpad "$DEST/usr/sbin/wpad"
	ln -sf wpad "$DEST/usr/sbin/hostapd"
	ln -sf wpad "$DEST/usr/sbin/wpa_supplicant"
	install -D -m 0755 full/hostapd/hostapd_cli "$DEST/usr/sbin/hostapd_cli"
	install -D -m 0755 full/wpa_supplicant/wpa_cli "$DEST/usr/sbin/wpa_cli"
	install -D -m 0755 basic/hostapd/hostapd "$DEST/usr/sbin/hostapd-basic"
	install -D -m 0644 "$pkg/files/hostapd.uc" "$DEST/usr/share/hostap/hostapd.uc"
	install -D -m 0644 "$pkg/files/wpa_supplicant.uc" "$DEST/usr/share/hostap/wpa_supplicant.uc"
	strip "$DEST/usr/sbin/wpad" "$DEST/usr/sbin/hostapd-basic" "$DEST/usr/sbin/hostapd_cli" "$DEST/usr/sbin/wpa_cli"
}
