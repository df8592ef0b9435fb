# ucode: the interpreter of fw4, LuCI's dispatcher and the wifi scripts, with
# OpenWrt's patches and the modules they use.
deps="libubox uci ubus libnl-tiny"
extra_archives="openwrt"
apt="cmake pkg-config libjson-c-dev zlib1g-dev libmd-dev"
build() {
	owrt_patches package/utils/ucode
	owrt_cmake -DSOVERSION=20230711 \
		-DDEBUG_SUPPORT=ON -DFS_SUPPORT=ON -DIO_SUPPORT=ON -DMATH_SUPPORT=ON \
		-DUBUS_SUPPORT=ON -DUCI_SUPPORT=ON -DRTNL_SUPPORT=ON -DNL80211_SUPPORT=ON \
		-DRESOLV_SUPPORT=ON -DSTRUCT_SUPPORT=ON -DULOOP_SUPPORT=ON -DLOG_SUPPORT=ON \
		-DSOCKET_SUPPORT=ON -DZLIB_SUPPORT=ON -DDIGEST_SUPPORT=ON
}
