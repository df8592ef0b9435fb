# lucihttp: LuCI's HTTP helper (multipart and urlencoded parsers), with its
# ucode binding.
deps="ucode"
apt="cmake"
build() {
	OWRT_CFLAGS="$OWRT_CFLAGS $OWRT_CFLAGS_UCODE"
	owrt_cmake -DBUILD_LUA=OFF -DBUILD_UCODE=ON -DBUILD_TESTS=OFF
}
