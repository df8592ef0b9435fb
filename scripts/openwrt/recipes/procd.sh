# procd: init and service manager (as PID 1 or, beside ubusd, as the
# "service" ubus object), ujail (the jail wpad.init puts hostapd in), with
# seccomp and utrace as OpenWrt's procd-seccomp.
deps="libubox ubus uci udebug"
apt="cmake libjson-c-dev"
build() {
	owrt_strlcpy
	owrt_cmake -DJAIL_SUPPORT=1 -DSECCOMP_SUPPORT=1 -DUTRACE_SUPPORT=1 \
		-DEARLY_PATH="/usr/sbin:/usr/bin:/sbin:/bin"
	owrt_place usr/sbin/procd usr/sbin/init usr/sbin/askfirst usr/sbin/udevtrigger \
		usr/sbin/upgraded usr/sbin/ujail usr/sbin/uxc usr/sbin/utrace sbin
	ln -sf utrace "$DEST/sbin/seccomp-trace"
}
