package inventory

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// parseLeases reads dnsmasq's lease file ("expiry MAC address hostname
// client-id" per IPv4 lease; IPv6 leases, after a "duid" line, name no MAC
// and are skipped) and returns the leases in force at now. Lines it cannot
// read are skipped: the file is dnsmasq's.
func parseLeases(r io.Reader, now time.Time) []Lease {
	var out []Lease
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
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
		if err != nil {
			continue
		}
		out = append(out, Lease{MAC: mac, Addr: a, Hostname: f[3]})
	}
	return out
}
