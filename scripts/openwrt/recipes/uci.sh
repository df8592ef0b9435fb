# uci: the configuration library and the uci command line tool.
deps="libubox"
apt="cmake"
build() {
	owrt_cmake -DBUILD_LUA=OFF -DBUILD_TESTS=OFF
	owrt_place usr/bin/uci sbin
}
