# bbfdm: iopsys' TR-181 data model daemon bbfdmd (what icwmp and USP agents
# ask), its JSON plugin loader (libbbfdm-api) and bbf_configd, the C
# backend of the bbf.config ubus object, which commits what an agent
# changed and has the services reload (rpcd's uci commit, procd's
# triggers).
deps="libubox uci ubus"
apt="cmake gcc make pkg-config libjson-c-dev libcurl4-openssl-dev libssl-dev"
build() {
	# bbfdmd builds with -Wextra -Werror, and this libubox's blobmsg.h
	# compares signed with unsigned (OpenWrt's bbfdm is older than it).
	OWRT_CFLAGS="$OWRT_CFLAGS -Wno-error=sign-compare"
	# bbf_configd (utilities/) is made by a target of the top-level
	# CMakeLists with the CC, CFLAGS and LDFLAGS cmake saw in the
	# environment.
	export CC=gcc CFLAGS="$OWRT_CFLAGS -I$DEST/usr/include" LDFLAGS="-L$DEST/usr/lib -Wl,-rpath-link,$DEST/usr/lib"
	# The vendor prefix of bbfdm's own extensions; trustjoin's plugin
	# names its subtree itself. bbfdm's install paths are relative to /
	# (usr/lib, usr/sbin), as its OpenWrt package builds it. A table lists
	# at most BBF_MAX_OBJECT_INSTANCES instances (255 unless set): an ISP
	# pre-authorising more devices than that builds bbfdm with more.
	owrt_cmake -DBBF_VENDOR_PREFIX=X_IOPSYS_EU_ -DCMAKE_INSTALL_PREFIX=/ -DBBF_MAX_OBJECT_INSTANCES=4096
	install -D -m 0755 utilities/bbf_configd "$DEST/usr/sbin/bbf_configd"
	mkdir -p "$DEST/etc/bbfdm/dmmap" "$DEST/usr/share/bbfdm/plugins"
}
