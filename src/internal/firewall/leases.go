package firewall

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// parseLeases reads dnsmasq's lease file: "expiry MAC address name
// client-id" per IPv4 lease (IPv6 leases, after a "duid" line, name no
// MAC and are skipped), and returns the leases in force at now, address
// -> MAC. Lines it cannot read are skipped: the file is dnsmasq's, and
// a lease missing here only means packets teach the address instead.
func parseLeases(r io.Reader, now time.Time) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		exp, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || (exp != 0 && time.Unix(exp, 0).Before(now)) {
			continue
		}
		mac, err := net.ParseMAC(f[1])
		if err != nil || len(mac) != 6 {
			continue
		}
		a, err := netip.ParseAddr(f[2])
		if err != nil || !a.Is4() {
			continue
		}
		out[a] = string(mac)
	}
	return out
}
