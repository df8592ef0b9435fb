# jsonfilter: JSONPath for shell scripts (used by OpenWrt's scripts).
deps="libubox"
apt="cmake pkg-config libjson-c-dev"
build() {
	owrt_cmake
	mv "$DEST/usr/bin/jsonpath" "$DEST/usr/bin/jsonfilter"
}
