package firewall

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
garbage line
1800000600 not-a-mac 192.168.1.14 x *
1800000600 02:00:00:00:01:15 not-an-address x *
duid 00:01:00:01:2c:00:00:00:02:00:00:00:00:01
1800000600 1234567 fd00::16 phone 00:01:00:01
`
	want := map[netip.Addr]string{
		netip.MustParseAddr("192.168.1.11"): string(net.HardwareAddr{2, 0, 0, 0, 1, 0x11}),
		netip.MustParseAddr("192.168.1.12"): string(net.HardwareAddr{2, 0, 0, 0, 1, 0x12}),
	}
	if diff := cmp.Diff(want, parseLeases(strings.NewReader(in), now)); diff != "" {
		t.Errorf("leases (-want +got):\n%s", diff)
	}
}
