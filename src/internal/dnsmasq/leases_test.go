package dnsmasq

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseLeases(t *testing.T) {
	now := time.Unix(1800000000, 0)
	in := `1800000600 02:00:00:00:01:11 192.168.1.11 camera 01:02:00:00:00:01:11
0 02:00:00:00:01:12 192.168.1.12 * *
1700000000 02:00:00:00:01:13 192.168.1.13 old *
1800000600 02:00:00:00:01:17 192.168.1.17
garbage line
1800000600 not-a-mac 192.168.1.14 x *
1800000600 02:00:00:00:01:15 not-an-address x *
1800000600 02:00:00:00:01:00:00:00 192.168.1.18 long-mac *
duid 00:01:00:01:2c:00:00:00:02:00:00:00:00:01
1800000600 1234567 fd00::16 phone 00:01:00:01
`
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	want := []Lease{
		{MAC: mac("02:00:00:00:01:11"), Addr: netip.MustParseAddr("192.168.1.11"), Hostname: "camera"},
		{MAC: mac("02:00:00:00:01:12"), Addr: netip.MustParseAddr("192.168.1.12"), Hostname: "*"},
		{MAC: mac("02:00:00:00:01:17"), Addr: netip.MustParseAddr("192.168.1.17"), Hostname: "*"},
	}
	got := ParseLeases(strings.NewReader(in), now)
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("leases (-want +got):\n%s", diff)
	}
}

// The lease file holds what DHCP clients chose to send (their names):
// whatever it holds, only IPv4 leases with a 6-byte MAC come out.
func FuzzParseLeases(f *testing.F) {
	f.Add("1893456000 02:00:00:00:01:00 192.168.1.20 camera 01:02:00:00:00:01:00\n")
	f.Add("duid 00:01:00:01\n0 02:00:00:00:01:00 fd00::20 * *\n")
	f.Add("0 02:00:00:00:01:00:00:00 192.168.1.20 x\n")
	f.Fuzz(func(t *testing.T, file string) {
		for _, l := range ParseLeases(strings.NewReader(file), time.Unix(1700000000, 0)) {
			if !l.Addr.Is4() || len(l.MAC) != 6 || l.Hostname == "" {
				t.Fatalf("lease %+v", l)
			}
		}
	})
}
