package brski

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// linkRate is the LAN rate the shaped measurement stands for: a home
// router's gigabit ports. tbf's burst (1 ms at that rate) holds a whole
// 64 KiB GSO packet, so the shaper does not have to split them.
const linkRate, linkBurst, linkLatency = "1gbit", "128kb", "10ms"

// TestThroughputNetns is the namespace part of the BRSKI benchmark of
// `make bench` (scripts/bench.sh): figures, never a failure on timing.
// A pledge namespace streams to a sink in a registrar namespace across a
// router namespace, over veth pairs, either routed by the router's kernel
// (direct) or through the circuit proxy running in the router (relayed),
// first unshaped (CPU-bound: all of it on the machine's cores), then with
// every veth end shaped to linkRate. Direct and relayed streams take turns,
// round after round, each starting first every other round, so a shared
// machine's load falls on both alike; the medians are printed. The CPU
// figure is what the kernel charged to this process (writer, proxy,
// sink): the router's forwarding in softirq is mostly not, so it tells
// the relay's own cost at a link rate, not direct against relayed.
func TestThroughputNetns(t *testing.T) {
	if os.Getenv("TJ_BENCH_BRSKI") == "" {
		t.Skip("benchmark: set TJ_BENCH_BRSKI=1 (scripts/bench.sh)")
	}
	pl, rt, rg := newNetns(t, "pl"), newNetns(t, "rt"), newNetns(t, "rg")
	veth(t, pl, "pl0", []string{"fe80::2"}, rt, "lan0", []string{"fe80::1"})
	veth(t, rt, "wan0", []string{"fe80::11"}, rg, "rg0", []string{"fe80::12"})
	// Routable addresses for the direct path: the router forwards
	// between fd00:1::/64 (LAN) and fd00:2::/64 (registrar side).
	pl.sh(t, "ip", "-6", "addr", "add", "fd00:1::2/64", "dev", "pl0", "nodad")
	rt.sh(t, "ip", "-6", "addr", "add", "fd00:1::1/64", "dev", "lan0", "nodad")
	rt.sh(t, "ip", "-6", "addr", "add", "fd00:2::1/64", "dev", "wan0", "nodad")
	rg.sh(t, "ip", "-6", "addr", "add", "fd00:2::2/64", "dev", "rg0", "nodad")
	pl.sh(t, "ip", "-6", "route", "add", "fd00:2::/64", "via", "fd00:1::1")
	rg.sh(t, "ip", "-6", "route", "add", "fd00:1::/64", "via", "fd00:2::1")
	rt.sh(t, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1")

	ln, err := nsNetwork{rg}.Listen(context.Background(), "tcp6", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	s := serveSink(t, ln)
	port := ln.Addr().(*net.TCPAddr).Port
	p := NewProxy(slog.New(slog.NewTextHandler(io.Discard, nil)), Config{
		Interfaces: []string{"lan0"}, Port: 8443,
		RegistrarHost: "fe80::12%wan0", RegistrarPort: port,
		MaxConnections: 4, MaxPerSource: 4, IdleTimeout: time.Minute,
	})
	p.net = nsNetwork{rt}
	runProxy(t, p)

	paths := []struct{ name, addr string }{
		{"direct", fmt.Sprintf("[fd00:2::2]:%d", port)},
		{"relayed", "[fe80::1%pl0]:8443"},
	}
	// stream sends for d and returns bits per second, counted when the
	// sink has acknowledged the end: every byte arrived, and the CPU time
	// this process took meanwhile per second (writer, proxy, sink, and
	// the kernel's work charged to them), in cores.
	stream := func(addr string, d time.Duration) (bps, cores float64) {
		c, err := nsNetwork{pl}.Dial(context.Background(), "tcp6", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		chunk := make([]byte, 64<<10)
		var sent int64
		cpu0, start := cpuTime(t), time.Now()
		c.SetWriteDeadline(start.Add(d))
		for {
			k, err := c.Write(chunk)
			sent += int64(k)
			if err != nil {
				break // the deadline; anything else shows at the acknowledgement
			}
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		c.(*net.TCPConn).CloseWrite()
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Fatalf("%s: end of the stream not acknowledged: %v", addr, err)
		}
		secs := time.Since(start).Seconds()
		return float64(sent) * 8 / secs, (cpuTime(t) - cpu0).Seconds() / secs
	}
	const rounds, slice = 7, time.Second
	median := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
	measure := func(label string) {
		got, cpu := map[string][]float64{}, map[string][]float64{}
		var ratios []float64
		for r := range rounds {
			for i := range paths {
				path := paths[(i+r)%len(paths)]
				bps, cores := stream(path.addr, slice)
				got[path.name] = append(got[path.name], bps)
				cpu[path.name] = append(cpu[path.name], cores)
			}
			ratios = append(ratios, got["relayed"][r]/got["direct"][r])
		}
		d, rl := median(got["direct"]), median(got["relayed"])
		fmt.Printf("%s relayed/direct: %.2f (%.2f vs %.2f Gbit/s, medians of %d interleaved %v streams; per round %.2f-%.2f)\n",
			label, rl/d, rl/1e9, d/1e9, rounds, slice, slices.Min(ratios), slices.Max(ratios))
		fmt.Printf("%s CPU of the test process, in cores: relayed %.2f, direct %.2f (medians)\n", label, median(cpu["relayed"]), median(cpu["direct"]))
	}
	before := s.received.Load()
	measure("netns unshaped (CPU-bound, one machine's cores)")
	for _, dev := range []struct {
		ns   netns
		name string
	}{{pl, "pl0"}, {rt, "lan0"}, {rt, "wan0"}, {rg, "rg0"}} {
		dev.ns.sh(t, "tc", "qdisc", "add", "dev", dev.name, "root", "tbf", "rate", linkRate, "burst", linkBurst, "latency", linkLatency)
	}
	measure(fmt.Sprintf("netns at %s (tbf on every veth end)", linkRate))
	fmt.Println("goal: relayed/direct at least 0.90 (issue #6)")
	if st := p.Status(); st.Counters.Accepted != 2*rounds || st.Counters.BytesToRegistrar == 0 || s.received.Load() == before {
		t.Errorf("the relayed streams did not all go through the proxy: %+v", st.Counters)
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestStatelessRelayNetns is the constrained proxy's part of the BRSKI
// benchmark of `make bench`: figures, never a failure on timing. A pledge
// namespace exchanges datagrams with an echo in a registrar namespace
// across the router namespace, either routed by the router's kernel to a
// plain UDP echo (direct) or through the stateless proxy to an echo that
// speaks JPY, as a registrar must (relayed): the JPY wrapping both ways is
// part of what the relay costs. Two figures, direct and relayed taking
// turns round after round: the round trip of one small datagram (a DTLS
// alert or ACK), and datagrams per second with a window of full-size ones
// in flight (cBRSKI keeps DTLS records under 1024 bytes).
func TestStatelessRelayNetns(t *testing.T) {
	if os.Getenv("TJ_BENCH_BRSKI") == "" {
		t.Skip("benchmark: set TJ_BENCH_BRSKI=1 (scripts/bench.sh)")
	}
	pl, rt, rg := newNetns(t, "pl"), newNetns(t, "rt"), newNetns(t, "rg")
	veth(t, pl, "pl0", []string{"fe80::2"}, rt, "lan0", []string{"fe80::1"})
	veth(t, rt, "wan0", []string{"fe80::11"}, rg, "rg0", []string{"fe80::12"})
	pl.sh(t, "ip", "-6", "addr", "add", "fd00:1::2/64", "dev", "pl0", "nodad")
	rt.sh(t, "ip", "-6", "addr", "add", "fd00:1::1/64", "dev", "lan0", "nodad")
	rt.sh(t, "ip", "-6", "addr", "add", "fd00:2::1/64", "dev", "wan0", "nodad")
	rg.sh(t, "ip", "-6", "addr", "add", "fd00:2::2/64", "dev", "rg0", "nodad")
	pl.sh(t, "ip", "-6", "route", "add", "fd00:2::/64", "via", "fd00:1::1")
	rg.sh(t, "ip", "-6", "route", "add", "fd00:1::/64", "via", "fd00:2::1")
	rt.sh(t, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1")

	echo := func(addr string, jpy bool) {
		pc, err := nsNetwork{rg}.ListenPacket(context.Background(), "udp6", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		// Datagrams read and written as the proxy does (recvFrom, sendTo),
		// so neither path pays for package net's zone names.
		go func() {
			buf := make([]byte, 4096)
			for {
				n, from, idx, err := recvFrom(pc.(*net.UDPConn), buf)
				if err != nil {
					return
				}
				out := buf[:n]
				if jpy { // a registrar: the content back under its header
					h, c, err := DecodeJPY(out)
					if err != nil {
						continue
					}
					out = MarshalJPY(h, c)
				}
				sendTo(pc.(*net.UDPConn), out, from, idx)
			}
		}()
	}
	echo("[fd00:2::2]:7000", false)
	echo(fmt.Sprintf("[fe80::12%%rg0]:%d", 5685), true)
	s, err := NewStateless(slog.New(slog.NewTextHandler(io.Discard, nil)), StatelessConfig{
		Interfaces: []string{"lan0"}, Port: 5684, RegistrarHost: "fe80::12%wan0", JPYPort: 5685,
		KeyRotation: time.Hour, KeyGrace: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.net = nsNetwork{rt}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-s.Ready():
	case <-time.After(20 * time.Second):
		t.Fatalf("stateless proxy not listening: %v", s.Status().Problems)
	}

	pl0, _, err := nsNetwork{pl}.Interface("pl0")
	if err != nil {
		t.Fatal(err)
	}
	paths := []struct {
		name, local string
		remote      netip.AddrPort
		ifindex     int
	}{
		{"direct", "[fd00:1::2]:0", netip.MustParseAddrPort("[fd00:2::2]:7000"), 0},
		{"relayed", "[fe80::2%pl0]:0", netip.MustParseAddrPort("[fe80::1]:5684"), pl0.Index},
	}
	dial := func(local string, remote netip.AddrPort, ifindex int) udpPath {
		pc, err := nsNetwork{pl}.ListenPacket(context.Background(), "udp6", local)
		if err != nil {
			t.Fatal(err)
		}
		return udpPath{c: pc.(*net.UDPConn), to: remote, ifindex: ifindex}
	}
	const rounds = 7
	median := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }

	// Round trips of a 100-byte datagram, one at a time.
	rtt := map[string][]float64{}
	// Datagrams per second, 1024 bytes each, window in flight.
	rate := map[string][]float64{}
	lost := map[string]int{}
	for r := range rounds {
		for i := range paths {
			path := paths[(i+r)%len(paths)]
			u := dial(path.local, path.remote, path.ifindex)
			rtt[path.name] = append(rtt[path.name], u.roundTrips(t, 500))
			n, l := u.rate(t, time.Second)
			rate[path.name] = append(rate[path.name], n)
			lost[path.name] += l
			u.c.Close()
		}
	}
	dr, rr := median(rate["direct"]), median(rate["relayed"])
	fmt.Printf("netns stateless relayed/direct datagrams per second: %.2f (%.0f vs %.0f, %d-byte datagrams, %d in flight, medians of %d interleaved 1s runs; %d vs %d lost)\n",
		rr/dr, rr, dr, rateSize, rateWindow, rounds, lost["relayed"], lost["direct"])
	dl, rl := median(rtt["direct"]), median(rtt["relayed"])
	fmt.Printf("netns stateless relayed/direct round trip: %.2f (%.0f vs %.0f µs, %d-byte datagrams, medians of %d rounds of 500)\n",
		rl/dl, rl, dl, rttSize, rounds)
	if c := s.Status().Counters; c.ToRegistrar == 0 || c.ToPledge == 0 || c.DroppedHeader != 0 {
		t.Errorf("the relayed datagrams did not all go through the proxy: %+v", c)
	}
}

// The datagrams of TestStatelessRelayNetns.
const (
	rttSize    = 100
	rateSize   = 1024
	rateWindow = 16
)

// udpPath is a pledge's socket and where its datagrams go; answers are
// read from whoever sends them (the proxy answers from its join port).
type udpPath struct {
	c       *net.UDPConn
	to      netip.AddrPort
	ifindex int
}

// roundTrips sends n datagrams one after the other, each once the echo
// of the last came back, and returns the median round trip in µs.
func (u udpPath) roundTrips(t *testing.T, n int) float64 {
	msg, buf := make([]byte, rttSize), make([]byte, 4096)
	var times []float64
	for len(times) < n {
		start := time.Now()
		if err := sendTo(u.c, msg, u.to, u.ifindex); err != nil {
			t.Fatal(err)
		}
		u.c.SetReadDeadline(start.Add(time.Second))
		if _, _, _, err := recvFrom(u.c, buf); err != nil {
			continue // lost: sent again
		}
		times = append(times, float64(time.Since(start).Microseconds()))
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// rate keeps rateWindow datagrams in flight for d, a new one sent for each
// echo, and returns the echoes per second and how many were lost (the
// window is refilled when none came back for 100 ms).
func (u udpPath) rate(t *testing.T, d time.Duration) (float64, int) {
	msg, buf := make([]byte, rateSize), make([]byte, 4096)
	start := time.Now()
	end := start.Add(d)
	inFlight, got, lost := 0, 0, 0
	for time.Now().Before(end) {
		for ; inFlight < rateWindow; inFlight++ {
			if err := sendTo(u.c, msg, u.to, u.ifindex); err != nil {
				t.Fatal(err)
			}
		}
		u.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, _, _, err := recvFrom(u.c, buf); err != nil {
			lost += inFlight
			inFlight = 0
			continue
		}
		inFlight--
		got++
	}
	return float64(got) / time.Since(start).Seconds(), lost
}
