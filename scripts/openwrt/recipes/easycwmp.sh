# easycwmp: the TR-069 client easycwmpd (C: the CWMP session with the ACS)
# and its shell side, /usr/sbin/easycwmp (ext/openwrt/scripts/easycwmp.sh)
# with the TR-181 function scripts, installed as OpenWrt's package does
# with CONFIG_EASYCWMP_SCRIPTS_FULL and CONFIG_EASYCWMP_DATA_MODEL_TR181.
deps="libubox uci ubus microxml"
apt="autoconf automake gcc make pkg-config libjson-c-dev libcurl4-openssl-dev"
build() {
	# configure.ac calls AM_INIT_AUTOMAKE twice, which automake 1.16
	# refuses; the second call (with subdir-objects) is the one that counts.
	sed -i '/^AM_INIT_AUTOMAKE$/d' configure.ac
	autoreconf -fi
	# Its headers define event_code_array in every file that includes
	# them: -fcommon, GCC's default before 10, links them as one.
	PKG_CONFIG_PATH="$DEST/usr/lib/pkgconfig" CFLAGS="$OWRT_CFLAGS -fcommon -D_GNU_SOURCE -I$DEST/usr/include" \
		LDFLAGS="-L$DEST/usr/lib -Wl,-rpath-link,$DEST/usr/lib" \
		./configure --prefix=/usr --enable-jsonc \
		--with-uci-include-path="$DEST/usr/include" --with-libubox-include-path="$DEST/usr/include" \
		--with-libubus-include-path="$DEST/usr/include"
	make -j"$JOBS"
	local s=ext/openwrt
	install -D -m 0755 bin/easycwmpd "$DEST/usr/sbin/easycwmpd"
	install -D -m 0644 $s/config/easycwmp "$DEST/etc/config/easycwmp"
	install -D -m 0755 $s/init.d/easycwmpd "$DEST/etc/init.d/easycwmpd"
	install -D -m 0644 $s/scripts/defaults "$DEST/usr/share/easycwmp/defaults"
	install -D -m 0755 $s/scripts/easycwmp.sh "$DEST/usr/sbin/easycwmp"
	mkdir -p "$DEST/usr/share/easycwmp/functions"
	cp $s/scripts/functions/common/* $s/scripts/functions/tr181/* "$DEST/usr/share/easycwmp/functions/"
	chmod 0755 "$DEST/usr/share/easycwmp/functions/"*
}
