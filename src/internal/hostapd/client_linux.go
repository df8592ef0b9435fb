package hostapd

import (
	"fmt"
	"os"
	"syscall"
)

// shareWithHostapd lets hostapd reply to the client socket local. OpenWrt
// runs hostapd jailed as user and group network, without the right to
// override file modes, and gives it its control folder (wpad.init chowns
// /var/run/hostapd); a socket created by root with the usual umask
// (0755, root:root) receives nothing, so every command would time out and
// no event arrive. hostapd_cli has the same fix in OpenWrt's patch
// 610-hostapd_cli_ujail_permission. The socket gets mode 0660 and the
// control folder's group: no one else may write to it. Nothing is sent
// before this is done, so hostapd never answers a socket it cannot reach.
func shareWithHostapd(local, ctrlDir string) error {
	if err := os.Chmod(local, 0o660); err != nil {
		return fmt.Errorf("failed to let hostapd answer on %s: %v", local, err)
	}
	fi, err := os.Stat(ctrlDir)
	if err != nil {
		return fmt.Errorf("failed to read the owner of %s: %v", ctrlDir, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Gid) == os.Getegid() {
		return nil
	}
	if err := os.Lchown(local, -1, int(st.Gid)); err != nil {
		return fmt.Errorf("failed to give %s the group of %s (hostapd's): %v", local, ctrlDir, err)
	}
	return nil
}
