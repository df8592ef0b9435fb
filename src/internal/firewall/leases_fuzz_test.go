package firewall

import (
	"strings"
	"testing"
	"time"
)

// dnsmasq's lease file holds what DHCP clients chose to send (their
// names): whatever it holds, only IPv4 leases with a MAC come out.
func FuzzParseLeases(f *testing.F) {
	f.Add("1893456000 02:00:00:00:01:00 192.168.1.20 camera 01:02:00:00:00:01:00\n")
	f.Add("duid 00:01:00:01\n0 02:00:00:00:01:00 fd00::20 * *\n")
	f.Add("0 02:00:00:00:01:00:00:00 192.168.1.20 x\n")
	f.Fuzz(func(t *testing.T, file string) {
		for a, mac := range parseLeases(strings.NewReader(file), time.Unix(1700000000, 0)) {
			if !a.Is4() || len(mac) != 6 {
				t.Fatalf("lease %s → %x", a, mac)
			}
		}
	})
}
