# libubox: event loop, blobmsg, ustream, jshn (JSON for shell scripts), udebug.
apt="cmake pkg-config libjson-c-dev"
build() {
	owrt_cmake -DBUILD_LUA=OFF -DBUILD_EXAMPLES=OFF -DBUILD_TESTS=OFF
	# OpenWrt: jshn in /usr/bin, jshn.sh in /usr/share/libubox (as here).
}
