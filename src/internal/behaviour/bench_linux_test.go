package behaviour

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// TestWatchCost measures what watching costs the router: the CPU time of
// this process (sender, the kernel's forwarding in its context, and the
// NFLOG reader with the recorder) per 1000 packets a device sends that its
// policy drops, with the log rule as the firewall installs it (at the end
// of a device's chain, limited to 50 a second) and with every drop logged, against the same drops
// not logged; rounds interleaved, medians of the ratios reported. A
// figure, not a test: it never fails on timing. make bench runs it.
//
//	dev 10.80.1.2 ── r (forward: drop to 10.80.2.0/24) ── wan 10.80.2.1
func TestWatchCost(t *testing.T) {
	if os.Getenv("TJ_BENCH_WATCH") == "" {
		t.Skip("a benchmark: TJ_BENCH_WATCH=1 (make bench)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	r, dev := fmt.Sprintf("tjwb%d-r", os.Getpid()), fmt.Sprintf("tjwb%d-d", os.Getpid())
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", r).Run()
		exec.Command("ip", "netns", "del", dev).Run()
	})
	run(t, "ip", "netns", "add", r)
	run(t, "ip", "netns", "add", dev)
	in := func(ns string, args ...string) {
		t.Helper()
		run(t, append([]string{"ip", "netns", "exec", ns}, args...)...)
	}
	in(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	in(r, "ip", "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", dev)
	in(r, "ip", "link", "add", "wan", "type", "veth", "peer", "name", "wanp")
	in(r, "ip", "link", "set", "wanp", "up")
	in(r, "ip", "addr", "add", "10.80.1.1/24", "dev", "lan")
	in(r, "ip", "addr", "add", "10.80.2.1/24", "dev", "wan")
	in(r, "ip", "link", "set", "lan", "up")
	in(r, "ip", "link", "set", "wan", "up")
	in(dev, "ip", "link", "set", "eth0", "address", "02:00:00:80:01:02", "up")
	in(dev, "ip", "addr", "add", "10.80.1.2/24", "dev", "eth0")
	in(dev, "ip", "route", "add", "default", "via", "10.80.1.1")
	const group = 4720
	// As the firewall has it: a device's chain ends in its drop, logged
	// at a bounded rate per chain, then dropped whether logged or not.
	configs := []struct{ name, rules string }{
		{"not watched", "drop"},
		{"watched (50/s per device, as installed)", fmt.Sprintf("limit rate 50/second burst 100 packets log group %d prefix %q drop\n\t\tdrop", group, PrefixDrop)},
		{"every drop logged", fmt.Sprintf("log group %d prefix %q drop", group, PrefixDrop)},
	}
	load := func(rules string) {
		t.Helper()
		ruleset := fmt.Sprintf("table inet tjwb\ndelete table inet tjwb\ntable inet tjwb {\n\tchain dev {\n\t\t%s\n\t}\n\tchain forwarded {\n\t\ttype filter hook forward priority 0;\n\t\tiifname \"lan\" ip daddr 10.80.2.0/24 jump dev\n\t}\n}\n", rules)
		cmd := exec.Command("ip", "netns", "exec", r, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(ruleset)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft: %v\n%s", err, out)
		}
	}
	nsf, err := os.Open("/var/run/netns/" + r)
	if err != nil {
		t.Fatal(err)
	}
	defer nsf.Close()
	var handled atomic.Uint64
	rec := NewRecorder(Options{
		Device: func(net.HardwareAddr) (string, bool) { return "dev", true },
		Policy: func(string) Policy { return Policy{Mode: Notify, Threshold: 10, Window: time.Minute} },
	})
	feed := &Feed{Group: group, CopyRange: 128, NetNS: int(nsf.Fd()), Handle: func(p Packet) { handled.Add(1); rec.Handle(p) }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go feed.Run(ctx)
	<-feed.Ready()

	// The sender: a UDP socket in the device's namespace.
	var sock int
	inNetNS(t, dev, func() {
		sock, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sock)
	const n = 50000
	payload := make([]byte, 64)
	cpu := func() time.Duration {
		var ru unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// drain waits until the reader has been idle for a while: what was
	// logged has been read and counted.
	drain := func() {
		last := handled.Load()
		for {
			time.Sleep(300 * time.Millisecond)
			if cur := handled.Load(); cur == last {
				return
			} else {
				last = cur
			}
		}
	}
	send := func() time.Duration {
		start := cpu()
		for i := 0; i < n; i++ {
			to := &unix.SockaddrInet4{Port: 23, Addr: [4]byte{10, 80, 2, byte(2 + i%250)}}
			unix.Sendto(sock, payload, 0, to)
		}
		drain()
		return cpu() - start
	}
	const rounds = 5
	per := make([][]time.Duration, len(configs))
	for round := 0; round < rounds; round++ {
		for i, c := range configs {
			load(c.rules)
			drain()
			per[i] = append(per[i], send())
		}
	}
	median := func(ds []float64) float64 { slices.Sort(ds); return ds[len(ds)/2] }
	for i, c := range configs {
		var ms, ratio []float64
		for round := range per[i] {
			ms = append(ms, float64(per[i][round])/float64(time.Millisecond)/(n/1000))
			ratio = append(ratio, float64(per[i][round])/float64(per[0][round]))
		}
		t.Logf("watch: %-40s CPU %.3f ms per 1000 dropped packets, %.2f× not watched (median of %d rounds)", c.name, median(ms), median(ratio), rounds)
	}
	t.Logf("watch: NFLOG packets read %d, socket overflows %d", handled.Load(), feed.Lost.Load())
}

// TestWatchMemory measures what watching keeps per device with 500
// devices: each with a full history (16 drops and 16 connections, the
// most it holds) and the names they were looked up by, against the
// registry's own memory for the same 500 devices (each with its 20-entry
// history), in the same run. A figure; make bench runs it.
func TestWatchMemory(t *testing.T) {
	if os.Getenv("TJ_BENCH_WATCH") == "" {
		t.Skip("a benchmark: TJ_BENCH_WATCH=1 (make bench)")
	}
	const devices = 500
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()
	reg, err := registry.Open(filepath.Join(t.TempDir(), "devices.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var ds []registry.Device
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i := 0; i < devices; i++ {
		d := registry.Device{ID: fmt.Sprintf("d-%08x", i), Name: fmt.Sprintf("device %d", i), KeyHash: strings.Repeat("ab", 32),
			MACs: []string{fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff)}, Segment: "iot", Ifname: "wlan0",
			KeyID: fmt.Sprintf("d-%08x", i), CredentialCreated: at, State: registry.StateConnected, MUDURL: "https://mfg.example/device.json",
			MUDStatus: "enforced", MUDDigest: strings.Repeat("cd", 32), LastSeen: at}
		for j := 0; j < 20; j++ {
			d.Record(at, "connected on wlan0")
		}
		ds = append(ds, d)
	}
	if err := reg.PutMany(ds); err != nil {
		t.Fatal(err)
	}
	ds = nil
	withRegistry := heap()
	rec := NewRecorder(Options{})
	for i := 0; i < devices; i++ {
		id := fmt.Sprintf("d-%08x", i)
		src := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		for j := 0; j < 16; j++ {
			dst := netip.AddrFrom4([4]byte{192, 0, byte(i), byte(j)})
			rec.learnNames(src, answer{name: fmt.Sprintf("host%d.cloud%d.example", j, i), addrs: []netip.Addr{dst}, ttl: 60}, at)
			rec.Record(id, src, Flow{Verdict: Opened, Proto: 6, Addr: dst, Port: 443}, at)
			rec.Record(id, src, Flow{Verdict: Dropped, Proto: 6, Addr: dst, Port: uint16(1000 + j)}, at)
		}
	}
	withWatch := heap()
	regBytes := float64(withRegistry-base) / devices
	watchBytes := float64(withWatch-withRegistry) / devices
	t.Logf("watch: memory per device with %d devices: %.0f bytes of history and names (%.0f kB for all), registry %.0f bytes; registry and watching %.2f× the registry alone",
		devices, watchBytes, watchBytes*devices/1024, regBytes, (regBytes+watchBytes)/regBytes)
	runtime.KeepAlive(reg)
	runtime.KeepAlive(rec)
}
