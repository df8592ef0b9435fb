package firewall

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// fw4Offload is what fw4 installs when the householder turns on software
// flow offloading: a flowtable on the LAN bridges and the WAN, and as the
// first rule of its forward chain (priority 0) "flow add". Offloaded
// packets skip every forward hook, trustjoin's too.
const fw4Offload = `table inet fw4 {
	flowtable ft { hook ingress priority 0; devices = { br0, br1, wan }; counter; }
	chain forward { type filter hook forward priority 0; policy accept; meta l4proto { tcp, udp } flow add @ft; }
}`

// offloaded counts the router's conntrack entries from addr to port that
// the flowtable has taken over.
func offloaded(t *testing.T, fd int, addr string, port uint16) int {
	n := 0
	for _, f := range flowsOf(t, fd, addr, port) {
		if f.Status.Offload() {
			n++
		}
	}
	return n
}

// TestQuarantineOffloaded: with fw4's flow offloading on, a device's
// established flow leaves the forward hooks; quarantine must still cut it
// on its next packet. Needs a kernel with flowtables (the lab VM's: see
// test/blackbox/lab-kernel.sh).
func TestQuarantineOffloaded(t *testing.T) {
	e, fd := openEnforcer(t, "")
	cmd := exec.Command("ip", "netns", "exec", nsRouter, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(fw4Offload)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("kernel without flowtables (the lab VM has them: test/blackbox/lab-kernel.sh): %v: %s", err, out)
	}
	d, conn := governedConn(t, e)
	// Data after the handshake is what the flowtable takes over.
	deadline := time.Now().Add(5 * time.Second)
	for offloaded(t, fd, "10.77.1.11", 443) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connection was never offloaded: the test would prove nothing")
		}
		if err := echo(conn); err != nil {
			t.Fatalf("echo before quarantine: %v", err)
		}
	}
	if err := echo(conn); err != nil {
		t.Fatalf("echo on the offloaded connection: %v", err)
	}
	quarantineOpen(t, e, fd, d, conn)
	checkFlows(t, []flow{
		{nsD1, "tcp", "10.77.9.2:443", false},
		{nsD2, "tcp", "10.77.9.2:443", true},
	})
}
