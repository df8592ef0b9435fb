package dnsmasq

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// A Lease is one DHCPv4 lease in force.
type Lease struct {
	MAC  net.HardwareAddr
	Addr netip.Addr
	// Hostname is what the client sent, "*" when it sent none: text from
	// the network, to be checked before it is shown.
	Hostname string
}

// ParseLeases reads dnsmasq's lease file ("expiry MAC address hostname
// client-id" per IPv4 lease; IPv6 leases, after a "duid" line, name no MAC
// and are skipped) and returns the IPv4 leases in force at now, in file
// order. Lines it cannot read are skipped: the file is dnsmasq's, and a
// lease missing only means the address is learned another way.
func ParseLeases(r io.Reader, now time.Time) []Lease {
	var out []Lease
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
		l := Lease{MAC: mac, Addr: a, Hostname: "*"}
		if len(f) > 3 {
			l.Hostname = f[3]
		}
		out = append(out, l)
	}
	return out
}
