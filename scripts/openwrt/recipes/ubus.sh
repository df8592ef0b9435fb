# ubus: the message bus (ubusd) and its command line client.
deps="libubox"
apt="cmake libjson-c-dev"
build() {
	owrt_cmake -DBUILD_LUA=OFF -DBUILD_EXAMPLES=OFF -DBUILD_TESTS=OFF
	owrt_place usr/sbin/ubusd sbin
	owrt_place usr/bin/ubus bin
}
