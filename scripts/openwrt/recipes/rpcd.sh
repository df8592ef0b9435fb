# rpcd: ubus RPC daemon with ACL sessions and the exec (/usr/libexec/rpcd),
# file, ucode and rpc-sys plugins (rpc-sys with lib.sh's strlcpy; no iwinfo).
deps="libubox uci ubus ucode"
apt="cmake libjson-c-dev libcrypt-dev"
build() {
	OWRT_CFLAGS="$OWRT_CFLAGS $OWRT_CFLAGS_UCODE"
	owrt_strlcpy
	owrt_cmake -DFILE_SUPPORT=ON -DUCODE_SUPPORT=ON -DIWINFO_SUPPORT=OFF -DRPCSYS_SUPPORT=ON
	owrt_place usr/sbin/rpcd sbin
	install -D -m 0644 unauthenticated.json "$DEST/usr/share/rpcd/acl.d/unauthenticated.json"
}
