# opkg: the package manager of OpenWrt up to 24.10 (.ipk), as the opkg
# package builds it (HOST_CPU only names the default architecture: root.sh
# lists the architectures in /etc/opkg.conf, as OpenWrt's image does).
deps="libubox"
apt="cmake"
build() {
	owrt_cmake -DBUILD_TESTS=OFF -DHOST_CPU=x86_64 \
		-DPATH_SPEC="/usr/sbin:/usr/bin:/sbin:/bin" \
		-DVERSION="38eccbb1fd694d4798ac1baf88f9ba83d1eac616 (2024-10-16)"
	mkdir -p "$DEST/bin"
	mv "$DEST/usr/bin/opkg-cl" "$DEST/bin/opkg"
}
