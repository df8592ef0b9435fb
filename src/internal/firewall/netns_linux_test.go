package firewall

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

// The test network: a router namespace with two bridges (two segments)
// and a WAN link to an "internet" namespace; three devices.
//
//	tjfw-d1 10.77.1.11 ─┐
//	tjfw-d2 10.77.1.12 ─┴ br0 10.77.1.1 ┐
//	tjfw-d3 10.77.2.13 ── br1 10.77.2.1 ┼ tjfw-r ── wan 10.77.9.1 ── tjfw-i 10.77.9.2, .3
//
// The namespaces' names carry the process id, so two test runs on one
// machine (two checkouts, CI beside a developer) never share them.
var (
	nsRouter = nsName("r")
	nsInet   = nsName("i")
	nsD1     = nsName("d1")
	nsD2     = nsName("d2")
	nsD3     = nsName("d3")
)

func nsName(role string) string { return fmt.Sprintf("tjfw%d-%s", os.Getpid(), role) }

var macs = map[string]net.HardwareAddr{
	nsD1: {0x02, 0, 0, 0, 1, 0x11},
	nsD2: {0x02, 0, 0, 0, 1, 0x12},
	nsD3: {0x02, 0, 0, 0, 2, 0x13},
}

var addrs = map[string]string{nsD1: "10.77.1.11", nsD2: "10.77.1.12", nsD3: "10.77.2.13"}

var addrs6 = map[string]string{nsD1: "fd77:1::11", nsD2: "fd77:1::12", nsD3: "fd77:2::13"}

func run(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func nsRun(t testing.TB, ns string, args ...string) {
	t.Helper()
	run(t, append([]string{"ip", "netns", "exec", ns}, args...)...)
}

// needNetNS skips when the test cannot build namespaces.
func needNetNS(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and nftables")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
}

func delNS() {
	for _, ns := range []string{nsRouter, nsInet, nsD1, nsD2, nsD3} {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
}

// topology builds the test network and returns the router namespace's fd.
func topology(t testing.TB) int {
	needNetNS(t)
	delNS()
	t.Cleanup(delNS)
	for _, ns := range []string{nsRouter, nsInet, nsD1, nsD2, nsD3} {
		run(t, "ip", "netns", "add", ns)
		nsRun(t, ns, "ip", "link", "set", "lo", "up")
		// No duplicate address detection: link-local addresses are usable
		// at once, so IPv6 neighbour discovery does not delay the flows.
		sysctl(t, ns, "net/ipv6/conf/default/accept_dad", "0")
		sysctl(t, ns, "net/ipv6/conf/all/accept_dad", "0")
	}
	sysctl(t, nsRouter, "net/ipv4/ip_forward", "1")
	// Bridged traffic must not also pass the inet hooks (br_netfilter, off
	// on OpenWrt): the bridge table alone has to confine it.
	for _, k := range []string{"iptables", "ip6tables", "arptables"} {
		if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-" + k); err == nil {
			sysctl(t, nsRouter, "net/bridge/bridge-nf-call-"+k, "0")
		}
	}
	sysctl(t, nsRouter, "net/ipv6/conf/all/forwarding", "1")
	for _, br := range []struct{ name, addr, addr6 string }{{"br0", "10.77.1.1/24", "fd77:1::1/64"}, {"br1", "10.77.2.1/24", "fd77:2::1/64"}} {
		nsRun(t, nsRouter, "ip", "link", "add", br.name, "type", "bridge")
		nsRun(t, nsRouter, "ip", "addr", "add", br.addr, "dev", br.name)
		nsRun(t, nsRouter, "ip", "addr", "add", br.addr6, "dev", br.name, "nodad")
		nsRun(t, nsRouter, "ip", "link", "set", br.name, "up")
	}
	for _, d := range []struct{ ns, port, br, gw string }{
		{nsD1, "p1", "br0", "10.77.1.1"}, {nsD2, "p2", "br0", "10.77.1.1"}, {nsD3, "p3", "br1", "10.77.2.1"},
	} {
		run(t, "ip", "link", "add", d.port, "netns", nsRouter, "type", "veth", "peer", "eth0", "netns", d.ns)
		nsRun(t, d.ns, "ip", "link", "set", "eth0", "address", macs[d.ns].String())
		nsRun(t, d.ns, "ip", "addr", "add", addrs[d.ns]+"/24", "dev", "eth0")
		nsRun(t, d.ns, "ip", "addr", "add", addrs6[d.ns]+"/64", "dev", "eth0", "nodad")
		nsRun(t, d.ns, "ip", "link", "set", "eth0", "up")
		nsRun(t, d.ns, "ip", "route", "add", "default", "via", d.gw)
		nsRun(t, d.ns, "ip", "-6", "route", "add", "default", "via", strings.TrimSuffix(addrs6[d.ns], addrs6[d.ns][strings.LastIndex(addrs6[d.ns], ":")+1:])+"1")
		nsRun(t, nsRouter, "ip", "link", "set", d.port, "master", d.br, "up")
	}
	run(t, "ip", "link", "add", "wan", "netns", nsRouter, "type", "veth", "peer", "eth0", "netns", nsInet)
	nsRun(t, nsRouter, "ip", "addr", "add", "10.77.9.1/24", "dev", "wan")
	nsRun(t, nsRouter, "ip", "link", "set", "wan", "up")
	nsRun(t, nsInet, "ip", "addr", "add", "10.77.9.2/24", "dev", "eth0")
	nsRun(t, nsInet, "ip", "addr", "add", "10.77.9.3/24", "dev", "eth0")
	nsRun(t, nsInet, "ip", "link", "set", "eth0", "up")
	nsRun(t, nsInet, "ip", "route", "add", "10.77.0.0/16", "via", "10.77.9.1")
	nsRun(t, nsRouter, "ip", "addr", "add", "fd77:9::1/64", "dev", "wan", "nodad")
	// The address added last is the preferred source: ::2, as for IPv4.
	nsRun(t, nsInet, "ip", "addr", "add", "fd77:9::3/64", "dev", "eth0", "nodad")
	nsRun(t, nsInet, "ip", "addr", "add", "fd77:9::2/64", "dev", "eth0", "nodad")
	nsRun(t, nsInet, "ip", "-6", "route", "add", "fd77::/16", "via", "fd77:9::1")

	for _, ns := range []string{nsInet, nsD1, nsD2, nsD3, nsRouter} {
		for _, p := range []int{22, 80, 443, 800, 8000} {
			serveTCP(t, ns, p)
		}
		serveUDP(t, ns, 9999)
	}
	serveUDP(t, nsRouter, 53)
	f, err := os.Open("/var/run/netns/" + nsRouter)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// sysctl sets a network sysctl of namespace ns (no procps needed: the
// /proc/sys/net files are those of the opening thread's namespace).
func sysctl(t testing.TB, ns, key, val string) {
	t.Helper()
	if err := inNS(ns, func() error { return os.WriteFile("/proc/sys/"+key, []byte(val), 0o644) }); err != nil {
		t.Fatalf("sysctl %s in %s: %v", key, ns, err)
	}
}

// inNS runs f on a thread inside namespace ns; sockets it opens stay there.
func inNS(ns string, f func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %v", ns, err)
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with the goroutine.
		return fmt.Errorf("setns back: %v", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

func serveTCP(t testing.TB, ns string, port int) {
	var l net.Listener
	if err := inNS(ns, func() (err error) {
		l, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 64)
				for {
					n, err := c.Read(b)
					if err != nil {
						return
					}
					if _, err := c.Write(b[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
}

func serveUDP(t testing.TB, ns string, port int) {
	var pc net.PacketConn
	if err := inNS(ns, func() (err error) {
		pc, err = net.ListenPacket("udp", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		b := make([]byte, 2048)
		for {
			n, a, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(b[:n], a)
		}
	}()
}

// flowTimeout is how long a flow that should be blocked is given to get
// through; one that should work gets allowedTimeout, so a loaded machine
// does not fail it (it returns as soon as it works). The lab VM (software
// emulation) sets TJ_FLOW_TIMEOUT longer.
var flowTimeout = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("TJ_FLOW_TIMEOUT")); err == nil {
		return d
	}
	return time.Second
}()

var allowedTimeout = 5 * flowTimeout

// ns may name a source address: "tjfw-i@10.77.9.3".
func dialTCP(ns, dst string) (net.Conn, error) { return dialTCPWithin(ns, dst, allowedTimeout) }

func dialTCPWithin(ns, dst string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	ns, src, _ := strings.Cut(ns, "@")
	err := inNS(ns, func() (err error) {
		d := net.Dialer{Timeout: timeout}
		if src != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
		}
		c, err = d.Dial("tcp", dst)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := echoWithin(c, timeout); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// echo checks an open connection still carries data, within flowTimeout.
func echo(c net.Conn) error { return echoWithin(c, flowTimeout) }

func echoWithin(c net.Conn, timeout time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	b := make([]byte, 4)
	_, err := c.Read(b)
	if err == nil && string(b) != "ping" {
		err = errors.New("wrong echo")
	}
	return err
}

func udpEcho(ns, dst string) error { return udpEchoWithin(ns, dst, allowedTimeout) }

// udpEchoWithin sends a datagram every flowTimeout until one is echoed or
// timeout has passed.
func udpEchoWithin(ns, dst string, timeout time.Duration) error {
	var c net.Conn
	ns, src, _ := strings.Cut(ns, "@")
	if err := inNS(ns, func() (err error) {
		var d net.Dialer
		if src != "" {
			d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(src)}
		}
		c, err = d.Dial("udp", dst)
		return err
	}); err != nil {
		return err
	}
	defer c.Close()
	var err error
	for end := time.Now().Add(timeout); time.Now().Before(end); {
		if err = echoWithin(c, min(flowTimeout, time.Until(end))); err == nil {
			return nil
		}
	}
	return err
}

type flow struct {
	from, proto, dst string
	ok               bool
}

func (f flow) String() string {
	verb := "blocked"
	if f.ok {
		verb = "allowed"
	}
	return fmt.Sprintf("%s %s→%s %s", f.proto, f.from, f.dst, verb)
}

func try(f flow) error {
	timeout := flowTimeout
	if f.ok {
		timeout = allowedTimeout
	}
	if f.proto == "udp" {
		return udpEchoWithin(f.from, f.dst, timeout)
	}
	c, err := dialTCPWithin(f.from, f.dst, timeout)
	if err == nil {
		c.Close()
	}
	return err
}

// checkFlows tries every flow in parallel with real packets.
func checkFlows(t *testing.T, flows []flow) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(flows))
	for i, f := range flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = try(f)
		}()
	}
	wg.Wait()
	for i, f := range flows {
		switch {
		case f.ok && errs[i] != nil:
			t.Errorf("%v: failed: %v", f, errs[i])
		case !f.ok && errs[i] == nil:
			t.Errorf("%v: got through", f)
		}
	}
}

// prime makes each device send one packet to its router, as any device
// does on joining (DHCP, DNS), so the router learns its address.
func prime(t *testing.T) {
	for ns, a := range addrs {
		gw := a[:strings.LastIndex(a, ".")] + ".1:53"
		_ = udpEcho(ns, gw)
		a6 := addrs6[ns]
		_ = udpEcho(ns, "["+a6[:strings.LastIndex(a6, ":")+1]+"1]:53")
	}
}

// dnsServer answers A questions from names on 127.0.0.1; everything else
// gets an empty answer.
func dnsServer(t testing.TB, names map[string]string) string {
	addr, _ := dnsServerSet(t, names)
	return addr
}

// dnsServerSet is dnsServer whose answers can change.
func dnsServerSet(t testing.TB, names map[string]string) (string, func(name, ip string)) {
	var mu sync.Mutex
	names = maps.Clone(names)
	addr := fakeDNS(t, func(q dnsmessage.Question) (dnsmessage.RCode, []dnsmessage.Resource) {
		mu.Lock()
		ip, ok := names[strings.TrimSuffix(q.Name.String(), ".")]
		mu.Unlock()
		if !ok {
			return dnsmessage.RCodeNameError, nil
		}
		// ip lists addresses, comma-separated, of either family.
		var answers []dnsmessage.Resource
		for _, s := range strings.Split(ip, ",") {
			a := netip.MustParseAddr(s)
			switch {
			case a.Is4() && q.Type == dnsmessage.TypeA:
				answers = append(answers, rr(q.Name.String(), 300, &dnsmessage.AResource{A: a.As4()}))
			case a.Is6() && q.Type == dnsmessage.TypeAAAA:
				answers = append(answers, rr(q.Name.String(), 300, &dnsmessage.AAAAResource{AAAA: a.As16()}))
			}
		}
		return dnsmessage.RCodeSuccess, answers
	})
	return addr, func(name, ip string) {
		mu.Lock()
		names[name] = ip
		mu.Unlock()
	}
}

func exec0(args ...string) error { return exec.Command(args[0], args[1:]...).Run() }

func macsOf(ns string) []net.HardwareAddr { return []net.HardwareAddr{macs[ns]} }
