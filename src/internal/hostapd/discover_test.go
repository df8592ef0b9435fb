package hostapd_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/hostapd"
)

func TestDiscoverControlSockets(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"wlan0", "phy1-ap0", "global"} {
		l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, name), Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600)
	aps, err := hostapd.Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ap := range aps {
		if ap.Socket {
			names = append(names, ap.Ifname)
		}
	}
	// Not the process-wide "global" socket, not plain files.
	if diff := cmp.Diff([]string{"phy1-ap0", "wlan0"}, names); diff != "" {
		t.Fatalf("access points (-want +got):\n%s", diff)
	}
	if _, err := hostapd.Discover(filepath.Join(dir, "missing")); err != nil {
		t.Fatalf("a missing control directory is no error: %v", err)
	}
}
