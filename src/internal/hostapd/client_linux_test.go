package hostapd_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/hostapd"
)

// OpenWrt runs hostapd as group network, owner of its control folder: the
// client socket must let that group write to it, or no reply comes back.
func TestClientSocketWritableByHostapdGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the control folder another group")
	}
	f := newFake(t)
	const network = 101 // OpenWrt's network group
	if err := os.Chown(f.dir, network, network); err != nil {
		t.Fatal(err)
	}
	local := t.TempDir()
	c, err := hostapd.Dial(f.dir, "wlan0", local)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	socks, _ := filepath.Glob(filepath.Join(local, "trustjoin-*"))
	if len(socks) != 1 {
		t.Fatalf("client sockets in %s: %v", local, socks)
	}
	fi, err := os.Lstat(socks[0])
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if mode := fi.Mode().Perm(); mode != 0o660 || st.Gid != network {
		t.Fatalf("client socket has mode %o group %d, want 660 group %d (hostapd's)", mode, st.Gid, network)
	}
}
