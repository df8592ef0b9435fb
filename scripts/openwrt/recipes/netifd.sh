# netifd: the network interface manager.
deps="libubox uci ubus ucode libnl-tiny udebug"
apt="cmake pkg-config libjson-c-dev"
build() {
	# netifd reads PoE (C33 PSE) state over ethtool netlink; Debian 12's
	# kernel headers (6.1) predate those constants (6.9, 6.11). Their values
	# from the kernel's uapi, for older headers only; no PoE is used here.
	# Included after the real header, so ETHTOOL_A_PSE_MAX (sizing netifd's
	# attribute table) is 6.11's for the rest of the build.
	cat > "$DEST/../ethtool-pse-compat.h" <<'H'
#include <linux/version.h>
#include <linux/ethtool_netlink.h>
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 9, 0)
#define ETHTOOL_A_PSE_MAX 13
#define ETHTOOL_A_C33_PSE_ADMIN_STATE 5
#define ETHTOOL_A_C33_PSE_ADMIN_CONTROL 6
#define ETHTOOL_A_C33_PSE_PW_D_STATUS 7
#define ETHTOOL_A_C33_PSE_PW_CLASS 8
#define ETHTOOL_A_C33_PSE_ACTUAL_PW 9
#define ETHTOOL_A_C33_PSE_AVAIL_PW_LIMIT 12
#define ETHTOOL_C33_PSE_ADMIN_STATE_DISABLED 2
#define ETHTOOL_C33_PSE_ADMIN_STATE_ENABLED 3
#define ETHTOOL_C33_PSE_PW_D_STATUS_DISABLED 2
#define ETHTOOL_C33_PSE_PW_D_STATUS_SEARCHING 3
#define ETHTOOL_C33_PSE_PW_D_STATUS_DELIVERING 4
#define ETHTOOL_C33_PSE_PW_D_STATUS_TEST 5
#define ETHTOOL_C33_PSE_PW_D_STATUS_FAULT 6
#define ETHTOOL_C33_PSE_PW_D_STATUS_OTHERFAULT 7
#endif
H
	OWRT_CFLAGS="$OWRT_CFLAGS $OWRT_CFLAGS_UCODE -I$DEST/usr/include/libnl-tiny -include $DEST/../ethtool-pse-compat.h"
	owrt_cmake -DLIBNL_LIBS="$DEST/usr/lib/libnl-tiny.so"
	owrt_place usr/sbin/netifd sbin
}
