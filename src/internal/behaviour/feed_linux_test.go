package behaviour

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// inNetNS runs fn on a thread in the named network namespace; sockets fn
// opens stay there.
func inNetNS(t *testing.T, ns string, fn func()) {
	t.Helper()
	f, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: it ends with the goroutine, never
		// going back to Go's pool in the wrong namespace.
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestFeedRecordsRealPackets: a device namespace sends the router
// namespace a TCP connection attempt and a UDP packet, which nftables rules drop
// and log to one NFLOG group; the router's DNS answer to the device,
// naming the router's address, is logged to another. The recorder sees
// both through the kernel and names the destination.
//
//	dev 10.79.0.2 (02:00:00:79:00:02) ── veth ── 10.79.0.1 router
func TestFeedRecordsRealPackets(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and nftables")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	r, dev := fmt.Sprintf("tjbeh%d-r", os.Getpid()), fmt.Sprintf("tjbeh%d-d", os.Getpid())
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
	in(r, "ip", "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", dev)
	in(r, "ip", "addr", "add", "10.79.0.1/24", "dev", "lan")
	in(r, "ip", "link", "set", "lan", "up")
	in(dev, "ip", "link", "set", "eth0", "address", "02:00:00:79:00:02", "up")
	in(dev, "ip", "addr", "add", "10.79.0.2/24", "dev", "eth0")
	const drops, dns = 4711, 4712
	rules := fmt.Sprintf(`table inet tjtest {
	chain in {
		type filter hook input priority 0;
		iifname "lan" tcp dport 23 log group %[1]d prefix %[3]q drop
		iifname "lan" udp dport 5353 log group %[1]d prefix %[3]q drop
	}
	chain out {
		type filter hook output priority 0;
		oifname "lan" udp sport 53 log group %[2]d prefix %[4]q
	}
}
`, drops, dns, PrefixDrop, PrefixDNS)
	cmd := exec.Command("ip", "netns", "exec", r, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}

	nsf, err := os.Open("/var/run/netns/" + r)
	if err != nil {
		t.Fatal(err)
	}
	defer nsf.Close()
	devMAC, _ := net.ParseMAC("02:00:00:79:00:02")
	rec := NewRecorder(Options{Device: func(m net.HardwareAddr) (string, bool) { return "dev", m.String() == devMAC.String() }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feeds := []*Feed{
		{Group: drops, CopyRange: 128, NetNS: int(nsf.Fd()), Handle: rec.Handle},
		{Group: dns, CopyRange: 1500, NetNS: int(nsf.Fd()), Handle: rec.Handle},
	}
	errs := make(chan error, len(feeds))
	for _, f := range feeds {
		go func() { errs <- f.Run(ctx) }()
	}
	for _, f := range feeds {
		select {
		case <-f.Ready():
		case err := <-errs:
			t.Fatalf("feed failed: %v", err)
		}
	}
	// A second reader of a group is refused, saying so.
	if _, err := openNFLOG(int(nsf.Fd()), drops, 128, 1, time.Second); err == nil || !strings.Contains(err.Error(), "taken by another program") {
		t.Fatalf("second bind of group %d = %v, want refused", drops, err)
	}

	// The router answers the device's query for cloud.mfg.example with
	// its own address, from port 53.
	inNetNS(t, r, func() {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 79, 0, 1), Port: 53})
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		if _, err := c.WriteToUDP(dnsAnswer(t, "cloud.mfg.example", "", 60, "10.79.0.1"), &net.UDPAddr{IP: net.IPv4(10, 79, 0, 2), Port: 40000}); err != nil {
			t.Error(err)
		}
	})
	// The device tries telnet and mDNS to the router; both are dropped.
	telnet := exec.Command("ip", "netns", "exec", dev, "bash", "-c", "exec 3<>/dev/tcp/10.79.0.1/23")
	if err := telnet.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { telnet.Process.Kill(); telnet.Wait() }()
	in(dev, "bash", "-c", "echo hello > /dev/udp/10.79.0.1/5353")

	want := map[string]bool{"cloud.mfg.example:23/tcp": false, "cloud.mfg.example:5353/udp": false}
	deadline := time.After(20 * time.Second)
	for {
		h := rec.History("dev")
		for _, e := range h.Entries {
			if _, ok := want[e.Destination()]; ok && e.Verdict == Dropped && e.Addr == netip.MustParseAddr("10.79.0.1") {
				want[e.Destination()] = true
			}
		}
		all := true
		for _, ok := range want {
			all = all && ok
		}
		if all {
			break
		}
		select {
		case err := <-errs:
			t.Fatalf("feed failed: %v", err)
		case <-deadline:
			t.Fatalf("recorded %+v, want drops to %v", h, want)
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	for range feeds {
		if err := <-errs; err != nil {
			t.Fatalf("Run = %v after cancel, want nil", err)
		}
	}
}
