# microxml: PIVA Software's small XML library (a Mini-XML fork), easycwmp's.
apt="autoconf gcc make"
build() {
	# configure.in, no configure: as OpenWrt's PKG_FIXUP:=autoreconf.
	autoconf
	CFLAGS="$OWRT_CFLAGS" ./configure --prefix=/usr --enable-shared --disable-threads
	make -j"$JOBS" libmicroxml.so.1.0 microxml.pc
	# Its Makefile.in installs under DSTROOT.
	make install DSTROOT="$DEST"
}
