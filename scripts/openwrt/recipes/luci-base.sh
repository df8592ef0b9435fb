# luci-base: LuCI's C helper (the ucode module luci.core: lmo translations,
# crypt) and version stamp, as the luci-base package builds them. The rest of
# luci-base (htdocs, ucode, rpcd ACLs) is plain files: a recipe that needs
# them copies them from the luci archive.
archive=luci
deps="ucode"
apt="make"
build() {
	cd modules/luci-base/src
	make compile CFLAGS="$OWRT_CFLAGS $OWRT_CFLAGS_UCODE -I$DEST/usr/include" FPIC=-fPIC \
		LDFLAGS="-L$DEST/usr/lib" LUCI_VERSION=git-24.262.470bb2b LUCI_GITBRANCH=master
	make install DESTDIR="$DEST" LUCI_VERSION=git-24.262.470bb2b LUCI_GITBRANCH=master
}
