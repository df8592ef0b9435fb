#!/bin/bash
# Runs inside the lab VM, chrooted into the host's read-only root: loads the
# radios and the kernel modules the scenario needs, runs the scenario with
# its output in $LAB_OUT, and records its exit code for the host.
export LAB_SRC=/tmp/lab/src LAB_OUT=/tmp/lab/out
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TMPDIR=/tmp
. "$LAB_OUT/.lab-env"
# The unpacked Debian kernel (its modules) comes on a share of its own.
export LAB_SCENARIO LAB_RADIOS LAB_KVER LAB_KROOT=/tmp/lab/kernel TJ_BIN=$LAB_OUT/bin/trustjoin LAB_TJ_BIN \
	LAB_OWRT_ROOT LAB_RELEASE LAB_HOSTAPD
mkdir -p /run/hostapd /var/run/wpa_supplicant 2>/dev/null

mods() {
	for m in "$@"; do
		modprobe -d "$LAB_KROOT" "$m" || { echo "guest: modprobe $m failed"; return 1; }
	done
}
setup() {
	# mac80211 needs these ciphers loaded before hostapd installs keys, or
	# it fails with "key addition failed".
	mods ccm gcm ctr aes_generic cmac cfg80211 mac80211 8021q bridge || return 1
	# trustjoin's NFLOG rules: loaded on demand over 9p under emulation
	# they held the daemon's first install past the scenarios' 20 s.
	mods nft_limit nft_log nfnetlink_log || return 1
	# The kernel loads modules on demand (nf_tables expressions, veth,
	# conntrack netlink) by running /proc/sys/kernel/modprobe from the
	# initramfs root, where the host root is /host: point it at a wrapper
	# that runs modprobe on the share with the guest kernel's modules.
	printf '#!/bin/sh\nexec /bin/chroot /host /sbin/modprobe -d %s "$@"\n' "$LAB_KROOT" > /tmp/lab-modprobe &&
		chmod +x /tmp/lab-modprobe &&
		echo /host/tmp/lab-modprobe > /proc/sys/kernel/modprobe || { echo "guest: module autoloading not set up"; return 1; }
	# nftables as trustjoin's firewall needs it at its first start, loaded in
	# one go: on demand the kernel runs the wrapper above once per module
	# (lsmod.log of a run lists them), seconds each under emulation.
	mods nfnetlink nf_tables nf_conntrack nft_ct nft_meta_bridge nft_objref || return 1
	modprobe -d "$LAB_KROOT" mac80211_hwsim radios="$LAB_RADIOS" || { echo "guest: mac80211_hwsim failed"; return 1; }
	ip link set lo up
	for i in $(seq 1 50); do
		[ -e "/sys/class/net/wlan$((LAB_RADIOS - 1))" ] && return 0
		sleep 0.1
	done
	echo "guest: radios did not appear"; return 1
}

if [ "$1" = --shell ]; then
	setup
	echo "lab shell: radios wlan0..wlan$((LAB_RADIOS - 1)); checkout at $LAB_SRC; results in $LAB_OUT"
	echo "lab shell: '. \$LAB_SRC/test/lab/lib.sh' for the helpers; 'exit' powers the VM off"
	# The serial port as controlling terminal, so Ctrl-C and job control work.
	# (poweroff inside the chroot is the host's systemd one, which refuses.)
	cd "$LAB_SRC"
	exec setsid -c /bin/bash -i </dev/ttyS0 >/dev/ttyS0 2>&1
fi

setup > "$LAB_OUT/setup.log" 2>&1
rc=$?
if [ $rc = 0 ]; then
	cd "$LAB_SRC"
	bash "$LAB_SRC/$LAB_SCENARIO" "${LAB_ARGS[@]}" > "$LAB_OUT/scenario.log" 2>&1
	rc=$?
else
	cat "$LAB_OUT/setup.log"
fi
# The kernel's messages (regulatory domain, hwsim, bridges), which the
# console shows only from errors up, and the regulatory domain at the end.
dmesg > "$LAB_OUT/dmesg.log" 2>&1
# What the kernel loaded (on demand too): what a scenario needed.
lsmod > "$LAB_OUT/lsmod.log" 2>&1
iw reg get > "$LAB_OUT/iw-reg.log" 2>&1
echo "$rc" > "$LAB_OUT/exit-code"
sync
exit $rc
