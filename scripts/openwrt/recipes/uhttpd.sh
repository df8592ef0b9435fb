# uhttpd: the web server, with its ubus (/ubus JSON-RPC) and ucode (LuCI)
# handlers; no TLS and no Lua.
deps="libubox ubus ucode"
apt="cmake libjson-c-dev libcrypt-dev"
build() {
	OWRT_CFLAGS="$OWRT_CFLAGS $OWRT_CFLAGS_UCODE"
	owrt_cmake -DTLS_SUPPORT=OFF -DLUA_SUPPORT=OFF -DUCODE_SUPPORT=ON -DUBUS_SUPPORT=ON
	owrt_place usr/bin/uhttpd usr/sbin
}
