package config_test

import (
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/config"
)

func TestListenAddr(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "192.168.1.1:8099", want: "192.168.1.1:8099"},
		{in: "10.0.0.1:80", want: "10.0.0.1:80"},
		{in: "127.0.0.1:8099", want: "127.0.0.1:8099"},
		{in: "[fd12:3456::1]:8099", want: "[fd12:3456::1]:8099"},
		{in: "[fe80::1%br-lan]:8099", want: "[fe80::1%br-lan]:8099"},
		// Written the long way, it is the same address.
		{in: "[::ffff:192.168.1.1]:8099", want: "192.168.1.1:8099"},
		// Every interface in disguise.
		{in: "0.0.0.0:8099", err: "would listen on every interface"},
		{in: "[::]:8099", err: "would listen on every interface"},
		{in: "[::ffff:0.0.0.0]:8099", err: "would listen on every interface"},
		{in: "[::%eth0]:8099", err: "would listen on every interface"},
		{in: "[::ffff:0.0.0.0%eth0]:8099", err: "would listen on every interface"},
		{in: "[0:0:0:0:0:ffff:0:0]:8099", err: "would listen on every interface"},
		// Not a LAN address of the router.
		{in: "203.0.113.7:8099", err: "is not a LAN address"},
		{in: "[2001:db8::1]:8099", err: "is not a LAN address"},
		{in: "100.64.0.1:8099", err: "is not a LAN address"},
		{in: "[::ffff:203.0.113.7]:8099", err: "is not a LAN address"},
		{in: "224.0.0.1:8099", err: "is not an address of the router"},
		{in: "255.255.255.255:8099", err: "is not an address of the router"},
		{in: "[ff02::1]:8099", err: "is not an address of the router"},
		{in: "[fd00::1%eth0]:8099", err: "goes with link-local addresses only"},
		{in: "[fe80::1]:8099", err: "needs its interface"},
		{in: "[fe80::1%a/b]:8099", err: "is not an interface name"},
		{in: "192.168.1.1:0", err: "invalid address"},
		{in: "192.168.1.1", err: "invalid address"},
		{in: "lan:8099", err: "invalid address"},
	} {
		got, err := config.ListenAddr(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.err == "" && got.String() != tc.want:
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %v, %v, want an error saying %q", tc.in, got, err, tc.err)
		}
	}
}

// Whatever is accepted is a single LAN address, never every address.
func FuzzListenAddr(f *testing.F) {
	for _, s := range []string{"192.168.1.1:8099", "[::ffff:0.0.0.0]:8099", "[::%eth0]:1", "[fe80::1%br-lan]:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := config.ListenAddr(s)
		if err != nil {
			return
		}
		a := ap.Addr().WithZone("").Unmap()
		if a.IsUnspecified() || a.IsMulticast() || !(a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast()) || ap.Port() == 0 {
			t.Fatalf("accepted %q as %s", s, ap)
		}
		if again, err := config.ListenAddr(ap.String()); err != nil || again != ap {
			t.Fatalf("%q accepted as %s, which reads back as %s, %v", s, ap, again, err)
		}
	})
}
