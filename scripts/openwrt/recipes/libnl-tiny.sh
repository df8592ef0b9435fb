# libnl-tiny: OpenWrt's small netlink library (ucode's nl80211/rtnl, netifd).
apt="cmake pkg-config"
build() {
	owrt_cmake
}
