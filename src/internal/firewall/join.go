package firewall

import "fmt"

// Join confines the BRSKI join segment: devices not yet enrolled
// (pledges) may reach the router's join proxy and what every device
// needs to get on the link, nothing else.
type Join struct {
	// Ifaces carry the join segment; empty lifts the confinement.
	Ifaces []string
	// ProxyPort is the join proxy's TCP port (brski.port), reachable on
	// the router's link-local address of the interface a pledge is on.
	ProxyPort int
	// IPv4 also opens the proxy port on the interface's IPv4 addresses.
	IPv4 bool
	// CoAPPorts are the UDP ports of the constrained join proxy and its
	// discovery (brski.stateless_port, 5683), to ff02::fd and the
	// router's link-local address; empty when it is off.
	CoAPPorts []int
}

// validateJoin checks a confinement before anything reaches the kernel.
func validateJoin(j Join) error {
	seen := map[string]bool{}
	for _, i := range j.Ifaces {
		if i == "" || len(i) >= 16 {
			return fmt.Errorf("join segment: bad interface name %q", i)
		}
		if seen[i] {
			return fmt.Errorf("join segment: interface %s named twice", i)
		}
		seen[i] = true
	}
	if len(j.Ifaces) == 0 {
		return nil
	}
	if j.ProxyPort < 1 || j.ProxyPort > 65535 {
		return fmt.Errorf("join segment: proxy port %d out of range", j.ProxyPort)
	}
	for _, p := range j.CoAPPorts {
		if p < 1 || p > 65535 {
			return fmt.Errorf("join segment: CoAP port %d out of range", p)
		}
	}
	return nil
}
