# jsonfilter: JSONPath for shell scripts (used by OpenWrt's scripts).
deps="libubox"
apt="cmake pkg-config libjson-c-dev"
build() {
	# The snapshot (e5a07f4, "deferred JSON parsing") parses only -i or -s
	# input and so never reads stdin, which OpenWrt's own scripts pipe into
	# it (procd.sh's `service ... status`: `ubus call ... | jsonfilter -e`).
	# Restore reading stdin when neither is given, as jsonfilter always did.
	grep -q 'if (!jsobj && i_s_flag)' main.c
	sed -i 's/if (!jsobj && i_s_flag)/if (!jsobj \&\& (i_s_flag || input == stdin))/' main.c
	owrt_cmake
	mv "$DEST/usr/bin/jsonpath" "$DEST/usr/bin/jsonfilter"
}
