# shellcheck shell=bash
# Helpers for scripts/openwrt/recipes/*.sh, sourced by build.sh in the
# subshell that builds one component. A recipe runs in the unpacked source
# tree with:
#   DEST     the staging root: its dependencies are installed there already,
#            and it installs itself there, laid out as on OpenWrt (/usr/bin,
#            /sbin, /usr/lib/ucode, ...)
#   SRC      the directory of the source archives (openwrt-src)
#   OPENWRT  OpenWrt's own tree (package Makefiles, patches, files), unpacked
#   JOBS     parallel make jobs
# Everything is built for the prefix /usr, as OpenWrt's cmake.mk does, so
# paths compiled into the programs (/usr/lib/rpcd, /usr/lib/ucode, /etc/config)
# are right inside a root made by root.sh.

# Debian 12's GCC 12 warns where the OpenWrt toolchain does not; several
# projects build with -Werror. Only these warnings are demoted (README of
# openwrt-src: uhttpd's stringop-overread).
OWRT_CFLAGS="-Os -pipe -Wno-error=stringop-overread -Wno-error=unused-result -Wno-error=format-truncation -Wno-error=deprecated-declarations -Wno-error=maybe-uninitialized -Wno-error=format-overflow -Wno-error=parentheses"

# ucode's util.h uses vasprintf, which musl declares by default and glibc only
# with _GNU_SOURCE: for the components that include ucode's headers (defined
# empty, as the sources that define it themselves do, so no redefinition).
OWRT_CFLAGS_UCODE="-D_GNU_SOURCE="

# owrt_strlcpy: strlcpy for glibc 2.36, which lacks it (musl has it; glibc
# 2.38 added it), force-included into every file: procd and rpcd's rpc-sys use it.
owrt_strlcpy() {
	local h=$DEST/../strlcpy-compat.h
	cat > "$h" <<'H'
#ifndef OWRT_STRLCPY_COMPAT
#define OWRT_STRLCPY_COMPAT
/* no #include: it would fix the feature macros before the source sets them */
static inline __attribute__((unused)) __SIZE_TYPE__ owrt_strlcpy(char *d, const char *s, __SIZE_TYPE__ n)
{
	__SIZE_TYPE__ l = __builtin_strlen(s);
	if (n) {
		__SIZE_TYPE__ c = l >= n ? n - 1 : l;
		__builtin_memcpy(d, s, c);
		d[c] = 0;
	}
	return l;
}
#define strlcpy owrt_strlcpy
#endif
H
	OWRT_CFLAGS="$OWRT_CFLAGS -include $h"
}

# owrt_cmake [cmake options...]: configure, build and install the CMake project
# in the current directory into $DEST; in the source tree, as OpenWrt does
# (jsonfilter's build needs that).
owrt_cmake() {
	cmake -S . -B . -G "Unix Makefiles" \
		-DCMAKE_INSTALL_PREFIX=/usr \
		-DCMAKE_INSTALL_LIBDIR=lib \
		-DCMAKE_BUILD_TYPE=None \
		-DCMAKE_PREFIX_PATH="$DEST/usr" \
		-DCMAKE_C_FLAGS="$OWRT_CFLAGS -I$DEST/usr/include" \
		-DCMAKE_EXE_LINKER_FLAGS="-L$DEST/usr/lib -Wl,-rpath-link,$DEST/usr/lib" \
		-DCMAKE_SHARED_LINKER_FLAGS="-L$DEST/usr/lib -Wl,-rpath-link,$DEST/usr/lib" \
		-DCMAKE_MODULE_LINKER_FLAGS="-L$DEST/usr/lib -Wl,-rpath-link,$DEST/usr/lib" \
		"$@"
	make -j"$JOBS"
	make install DESTDIR="$DEST"
}

# owrt_patches DIR: apply OpenWrt's patches for a package (its patches/
# directory in the OpenWrt tree), as OpenWrt's build does.
owrt_patches() {
	local p
	for p in "$OPENWRT/$1"/patches/*.patch; do
		[ -e "$p" ] || continue
		echo "patch: ${p#"$OPENWRT"/}"
		patch -p1 --forward --no-backup-if-mismatch < "$p"
	done
}

# owrt_place FILE... DIR: move installed files (paths relative to $DEST) to
# where OpenWrt's package puts them, e.g. owrt_place usr/sbin/ubusd sbin.
owrt_place() {
	local dir=${*: -1} f
	mkdir -p "$DEST/$dir"
	for f in "${@:1:$#-1}"; do
		mv "$DEST/$f" "$DEST/$dir/"
	done
}
