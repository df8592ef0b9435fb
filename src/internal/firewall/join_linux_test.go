package firewall

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The join test network, in namespaces tjjn-<pid>-r (router), -p (a
// pledge on the router's join interface) and -u (a registrar, or the
// internet, upstream):
//
//	p: eth0 fe80::2 10.78.1.2 fd78:1::2 ── r: join0 fe80::1 10.78.1.1 fd78:1::1
//	r: up0 10.78.9.1 fd78:9::1          ── u: eth0 10.78.9.2 fd78:9::2
//
// The process id keeps runs from two checkouts apart.
var (
	jnRouter = fmt.Sprintf("tjjn-%d-r", os.Getpid())
	jnPledge = fmt.Sprintf("tjjn-%d-p", os.Getpid())
	jnUp     = fmt.Sprintf("tjjn-%d-u", os.Getpid())
)

func delJoinNS() {
	for _, ns := range []string{jnRouter, jnPledge, jnUp} {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
}

// joinTopology builds the join test network and returns the router
// namespace's fd.
func joinTopology(t *testing.T) int {
	needNetNS(t)
	delJoinNS()
	t.Cleanup(delJoinNS)
	for _, ns := range []string{jnRouter, jnPledge, jnUp} {
		run(t, "ip", "netns", "add", ns)
		nsRun(t, ns, "ip", "link", "set", "lo", "up")
		sysctl(t, ns, "net/ipv6/conf/default/accept_dad", "0")
		sysctl(t, ns, "net/ipv6/conf/all/accept_dad", "0")
	}
	// Forwarding on: what the pledge cannot reach upstream, the firewall
	// stopped.
	sysctl(t, jnRouter, "net/ipv4/ip_forward", "1")
	sysctl(t, jnRouter, "net/ipv6/conf/all/forwarding", "1")
	run(t, "ip", "link", "add", "join0", "netns", jnRouter, "type", "veth", "peer", "eth0", "netns", jnPledge)
	run(t, "ip", "link", "add", "up0", "netns", jnRouter, "type", "veth", "peer", "eth0", "netns", jnUp)
	for _, a := range [][]string{
		{jnRouter, "join0", "fe80::1/64", "10.78.1.1/24", "fd78:1::1/64"},
		{jnRouter, "up0", "", "10.78.9.1/24", "fd78:9::1/64"},
		{jnPledge, "eth0", "fe80::2/64", "10.78.1.2/24", "fd78:1::2/64"},
		{jnUp, "eth0", "", "10.78.9.2/24", "fd78:9::2/64"},
	} {
		ns, dev := a[0], a[1]
		// Only the link-local addresses given: a reply from a second one
		// would not reach the pledge's connected UDP socket.
		if a[2] != "" {
			nsRun(t, ns, "ip", "link", "set", dev, "addrgenmode", "none")
		}
		for _, addr := range a[2:] {
			if addr == "" {
				continue
			}
			args := []string{"ip", "addr", "add", addr, "dev", dev}
			if strings.Contains(addr, ":") {
				args = append(args, "nodad")
			}
			nsRun(t, ns, args...)
		}
		nsRun(t, ns, "ip", "link", "set", dev, "up")
	}
	nsRun(t, jnPledge, "ip", "route", "add", "default", "via", "10.78.1.1")
	nsRun(t, jnPledge, "ip", "-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0")
	nsRun(t, jnUp, "ip", "route", "add", "10.78.0.0/16", "via", "10.78.9.1")
	nsRun(t, jnUp, "ip", "-6", "route", "add", "fd78::/16", "via", "fd78:9::1")
	for _, p := range []int{8443, 8444, 22} {
		serveTCP(t, jnRouter, p) // the proxy's port and others
	}
	serveUDP(t, jnRouter, 53)
	serveUDP(t, jnRouter, 9999)
	serveUDP(t, jnRouter, 5684)
	serveTCP(t, jnUp, 443)
	serveUDP(t, jnUp, 9999)
	serveTCP(t, jnPledge, 80)
	f, err := os.Open("/var/run/netns/" + jnRouter)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

func newJoinEnforcer(t *testing.T, fd int) *Enforcer {
	return New(testLogger(t), Options{Table: "tjjn", NetNS: fd, CheckInterval: 100 * time.Millisecond})
}

// heard says whether a datagram the pledge sends to group (ff02::…) and
// port on its link reaches a listener in the router that joined it.
func heard(t *testing.T, group string, port int) bool {
	t.Helper()
	return arrives(t, jnPledge, jnRouter, func() (net.PacketConn, error) {
		ifi, err := net.InterfaceByName("join0")
		if err != nil {
			return nil, err
		}
		return net.ListenMulticastUDP("udp6", ifi, &net.UDPAddr{IP: net.ParseIP(group), Port: port})
	}, func() (*net.UDPAddr, error) {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return nil, err
		}
		return &net.UDPAddr{IP: net.ParseIP(group), Port: port, Zone: fmt.Sprint(ifi.Index)}, nil
	})
}

// arrives says whether a datagram sent from namespace from to dst reaches
// the socket listen opens in namespace to: one way, no reply needed.
func arrives(t *testing.T, from, to string, listen func() (net.PacketConn, error), dst func() (*net.UDPAddr, error)) bool {
	t.Helper()
	var l net.PacketConn
	if err := inNS(to, func() (err error) {
		l, err = listen()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	msg := []byte(fmt.Sprintf("from %s at %v", from, time.Now().UnixNano()))
	got := make(chan bool, 1)
	go func() {
		b := make([]byte, 256)
		_ = l.SetReadDeadline(time.Now().Add(2 * flowTimeout))
		for {
			n, _, err := l.ReadFrom(b)
			if err != nil {
				got <- false
				return
			}
			if bytes.Equal(b[:n], msg) {
				got <- true
				return
			}
		}
	}()
	if err := inNS(from, func() error {
		d, err := dst()
		if err != nil {
			return err
		}
		pc, err := net.ListenPacket("udp", ":0")
		if err != nil {
			return err
		}
		defer pc.Close()
		for range 3 {
			if _, err := pc.WriteTo(msg, d); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return <-got
}

// upstreamHears says whether a datagram from the pledge reaches the
// upstream namespace.
func upstreamHears(t *testing.T) bool {
	t.Helper()
	return arrives(t, jnPledge, jnUp,
		func() (net.PacketConn, error) { return net.ListenPacket("udp4", "10.78.9.2:7777") },
		func() (*net.UDPAddr, error) { return net.ResolveUDPAddr("udp4", "10.78.9.2:7777") })
}

// forget empties the neighbour caches on the join link, so IPv6 flows
// need neighbour discovery through the confinement.
func forget(t *testing.T) {
	nsRun(t, jnRouter, "ip", "neigh", "flush", "dev", "join0")
	nsRun(t, jnPledge, "ip", "neigh", "flush", "dev", "eth0")
}

// listRuleset checks nft can print the whole ruleset and returns it.
func listRuleset(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", jnRouter, "nft", "list", "ruleset").CombinedOutput()
	if err != nil {
		t.Fatalf("nft cannot list the ruleset: %v\n%s", err, out)
	}
	return string(out)
}

// Everything a pledge might try, and what an open router allows.
var (
	toProxy6   = flow{jnPledge, "tcp", "[fe80::1%eth0]:8443", true}
	toProxy4   = flow{jnPledge, "tcp", "10.78.1.1:8443", true}
	toSSH6     = flow{jnPledge, "tcp", "[fe80::1%eth0]:22", true}
	toSSH4     = flow{jnPledge, "tcp", "10.78.1.1:22", true}
	toGlobal   = flow{jnPledge, "tcp", "[fd78:1::1]:8443", true} // the router, not link-local
	toUpAddr   = flow{jnPledge, "tcp", "10.78.9.1:8443", true}   // the router's upstream address
	fwd4       = flow{jnPledge, "tcp", "10.78.9.2:443", true}
	fwd6       = flow{jnPledge, "tcp", "[fd78:9::2]:443", true}
	fwdUDP     = flow{jnPledge, "udp", "10.78.9.2:9999", true}
	dns4       = flow{jnPledge, "udp", "10.78.1.1:53", true}
	dns6       = flow{jnPledge, "udp", "[fe80::1%eth0]:53", true}
	otherUDP   = flow{jnPledge, "udp", "10.78.1.1:9999", true}
	coap       = flow{jnPledge, "udp", "[fe80::1%eth0]:5684", true}
	toPledge   = flow{jnRouter, "tcp", "[fe80::2%join0]:80", true} // the router opens, replies come back
	upToPledge = flow{jnUp, "tcp", "10.78.1.2:80", true}
)

func blocked(f flow) flow { f.ok = false; return f }

func TestJoinConfinement(t *testing.T) {
	fd := joinTopology(t)
	e := newJoinEnforcer(t, fd)
	ctx := context.Background()
	all := []flow{toProxy6, toProxy4, toSSH6, toSSH4, toGlobal, toUpAddr, fwd4, fwd6, fwdUDP, dns4, dns6, otherUDP, coap, toPledge, upToPledge}
	// Without the confinement everything works: the drops below are the
	// confinement's.
	checkFlows(t, all)
	if !heard(t, "ff02::fb", 5353) {
		t.Fatal("mDNS not heard without the confinement")
	}
	if !upstreamHears(t) {
		t.Fatal("upstream hears nothing from the pledge without the confinement")
	}
	if t.Failed() {
		t.FailNow()
	}

	j := Join{Ifaces: []string{"join0"}, ProxyPort: 8443, IPv4: true, CoAPPorts: []int{5684, 5683}}
	if err := e.SetJoin(ctx, j); err != nil {
		t.Fatal(err)
	}
	confined := []flow{toProxy6, toProxy4, blocked(toSSH6), blocked(toSSH4), blocked(toGlobal), blocked(toUpAddr),
		blocked(fwd4), blocked(fwd6), blocked(fwdUDP), dns4, dns6, blocked(otherUDP), coap, toPledge, blocked(upToPledge)}
	forget(t)
	checkFlows(t, confined)
	if !heard(t, "ff02::fb", 5353) {
		t.Error("mDNS to ff02::fb blocked")
	}
	if !heard(t, "ff02::fd", 5683) {
		t.Error("CoAP discovery to ff02::fd blocked")
	}
	if heard(t, "ff02::13", 7017) {
		t.Error("GRASP from a pledge got through")
	}
	if upstreamHears(t) {
		t.Error("a datagram from the pledge was forwarded upstream")
	}
	rs := listRuleset(t)
	for _, want := range []string{"chain " + chainJoinLocal, "fib daddr . iif type local"} {
		if !strings.Contains(rs, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rs)
		}
	}

	// No IPv4, no CoAP: the proxy on IPv4 and the CoAP port close.
	j = Join{Ifaces: []string{"join0"}, ProxyPort: 8443}
	if err := e.SetJoin(ctx, j); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{toProxy6, blocked(toProxy4), blocked(coap), dns4, blocked(fwd4)})

	// Bad confinements are refused and leave the one in force.
	for _, bad := range []Join{
		{Ifaces: []string{"join0"}},
		{Ifaces: []string{"join0"}, ProxyPort: 70000},
		{Ifaces: []string{"join0"}, ProxyPort: 8443, CoAPPorts: []int{0}},
		{Ifaces: []string{"join0", "join0"}, ProxyPort: 8443},
		{Ifaces: []string{"an-interface-name-too-long"}, ProxyPort: 8443},
	} {
		if err := e.SetJoin(ctx, bad); err == nil {
			t.Errorf("SetJoin(%+v) accepted", bad)
		}
	}
	checkFlows(t, []flow{toProxy6, blocked(toSSH6), blocked(fwd4)})

	// Another proxy port: the old one closes (the proxy check can fail).
	j.ProxyPort = 8444
	if err := e.SetJoin(ctx, j); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{blocked(toProxy6), {jnPledge, "tcp", "[fe80::1%eth0]:8444", true}, blocked(fwd4)})

	// Lifted: everything works again.
	if err := e.SetJoin(ctx, Join{}); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, all)
	// Only the bridge table's set of join bridges stays, empty.
	if left := listRuleset(t); strings.Contains(strings.ReplaceAll(left, setJoinBr, ""), "join") {
		t.Errorf("the confinement is still in the ruleset:\n%s", left)
	}

	// And back, into the installed tables.
	if err := e.SetJoin(ctx, Join{Ifaces: []string{"join0"}, ProxyPort: 8443}); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{toProxy6, blocked(toSSH6), blocked(fwd4), dns4})
	listRuleset(t)
}

// TestJoinRestored: the confinement comes back with the tables after an
// nft flush ruleset (fw4 reload), or after its own chain is flushed.
func TestJoinRestored(t *testing.T) {
	fd := joinTopology(t)
	e := newJoinEnforcer(t, fd)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.SetJoin(ctx, Join{Ifaces: []string{"join0"}, ProxyPort: 8443}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	want := []flow{toProxy6, blocked(toSSH6), blocked(fwd4), dns4}
	checkFlows(t, want)

	for _, how := range [][]string{
		{"nft", "flush", "ruleset"}, // fw4 reload
		{"nft", "flush", "chain", "inet", "tjjn", chainJoinLocal},
	} {
		nsRun(t, jnRouter, how...)
		checkFlows(t, []flow{toSSH6}) // gone for now
		ok := false
		for range 50 {
			time.Sleep(100 * time.Millisecond)
			e.mu.Lock()
			ok = e.present()
			e.mu.Unlock()
			if ok {
				break
			}
		}
		if !ok {
			t.Fatalf("%v: the confinement was not restored", how)
		}
		checkFlows(t, want)
	}
	listRuleset(t)
}

// TestJoinPledgesApart: on a join bridge, pledges reach the router's join
// proxy and never each other, not even at layer 2.
func TestJoinPledgesApart(t *testing.T) {
	needNetNS(t)
	r, p1, p2 := fmt.Sprintf("tjjb-%d-r", os.Getpid()), fmt.Sprintf("tjjb-%d-p1", os.Getpid()), fmt.Sprintf("tjjb-%d-p2", os.Getpid())
	del := func() {
		for _, ns := range []string{r, p1, p2} {
			_ = exec0("ip", "netns", "del", ns)
		}
	}
	del()
	t.Cleanup(del)
	for _, ns := range []string{r, p1, p2} {
		run(t, "ip", "netns", "add", ns)
		nsRun(t, ns, "ip", "link", "set", "lo", "up")
	}
	// Bridged traffic must not also pass the inet hooks (br_netfilter, off
	// on OpenWrt): the bridge table alone has to keep pledges apart.
	for _, k := range []string{"iptables", "ip6tables", "arptables"} {
		if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-" + k); err == nil {
			sysctl(t, r, "net/bridge/bridge-nf-call-"+k, "0")
		}
	}
	nsRun(t, r, "ip", "link", "add", "jbr0", "type", "bridge")
	nsRun(t, r, "ip", "link", "set", "jbr0", "addrgenmode", "none")
	nsRun(t, r, "ip", "addr", "add", "fe80::1/64", "dev", "jbr0", "nodad")
	nsRun(t, r, "ip", "addr", "add", "10.79.1.1/24", "dev", "jbr0")
	nsRun(t, r, "ip", "link", "set", "jbr0", "up")
	for i, ns := range []string{p1, p2} {
		port := fmt.Sprintf("jp%d", i+1)
		run(t, "ip", "link", "add", port, "netns", r, "type", "veth", "peer", "eth0", "netns", ns)
		nsRun(t, ns, "ip", "link", "set", "eth0", "addrgenmode", "none")
		nsRun(t, ns, "ip", "addr", "add", fmt.Sprintf("fe80::%d/64", i+2), "dev", "eth0", "nodad")
		nsRun(t, ns, "ip", "addr", "add", fmt.Sprintf("10.79.1.%d/24", i+2), "dev", "eth0")
		nsRun(t, ns, "ip", "link", "set", "eth0", "up")
		nsRun(t, r, "ip", "link", "set", port, "master", "jbr0", "up")
	}
	serveTCP(t, r, 8443)
	serveTCP(t, p2, 80)
	f, err := os.Open("/var/run/netns/" + r)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := New(testLogger(t), Options{Table: "tjjb", NetNS: int(f.Fd()), CheckInterval: 100 * time.Millisecond})
	t.Cleanup(func() { _ = exec0("ip", "netns", "exec", r, "nft", "flush", "ruleset") })
	toNeighbour := []flow{{p1, "tcp", "10.79.1.3:80", true}, {p1, "tcp", "[fe80::3%eth0]:80", true}}
	// Before: the neighbour is reachable, so what follows can fail.
	checkFlows(t, toNeighbour)
	if err := e.SetJoin(context.Background(), Join{Ifaces: []string{"jbr0"}, ProxyPort: 8443, IPv4: true}); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{
		{p1, "tcp", "[fe80::1%eth0]:8443", true},
		{p2, "tcp", "10.79.1.1:8443", true},
		blocked(toNeighbour[0]),
		blocked(toNeighbour[1]),
	})
	// Lifted, the bridge is an ordinary one again.
	if err := e.SetJoin(context.Background(), Join{}); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, toNeighbour)
}
