package firewall

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// mudFile is a MUD file whose from-device policy is the given ACEs, in an
// ACL of the given type.
func mudFile(t *testing.T, typ, aces string) *mud.Policy {
	t.Helper()
	p, err := mud.Parse([]byte(`{"ietf-mud:mud":{"mud-version":1,"mud-url":"https://maker.example/icmp","last-update":"2026-01-01T00:00:00Z",
		"is-supported":true,"from-device-policy":{"access-lists":{"access-list":[{"name":"out"}]}}},
		"ietf-access-control-list:acls":{"acl":[{"name":"out","type":"`+typ+`","aces":{"ace":[`+aces+`]}}]}}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var pingID atomic.Int32

func init() { pingID.Store(int32(os.Getpid() & 0x7fff)) }

// pingWithin sends ICMP (or ICMPv6) echo requests from namespace ns to
// dst until one is answered or timeout has passed.
func pingWithin(ns, dst string, timeout time.Duration) error {
	ip := net.ParseIP(dst)
	network, listen, proto := "ip4:icmp", "0.0.0.0", 1
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if ip.To4() == nil {
		network, listen, proto, typ = "ip6:ipv6-icmp", "::", 58, ipv6.ICMPTypeEchoRequest
	}
	var c *icmp.PacketConn
	if err := inNS(ns, func() (err error) {
		c, err = icmp.ListenPacket(network, listen)
		return err
	}); err != nil {
		return err
	}
	defer c.Close()
	// A fresh identifier each time: conntrack keeps an answered echo's
	// flow by it, and the next test must be judged afresh.
	id := int(pingID.Add(1)) & 0xffff
	end := time.Now().Add(timeout)
	for seq := 1; time.Now().Before(end); seq++ {
		msg, _ := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("trustjoin")}}).Marshal(nil)
		if _, err := c.WriteTo(msg, &net.IPAddr{IP: ip}); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(min(flowTimeout, time.Until(end))))
		b := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(b)
			if err != nil {
				break // the next request
			}
			m, err := icmp.ParseMessage(proto, b[:n])
			if err != nil || from.String() != ip.String() {
				continue
			}
			if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && (m.Type == ipv4.ICMPTypeEchoReply || m.Type == ipv6.ICMPTypeEchoReply) {
				return nil
			}
		}
	}
	return errors.New("no echo reply")
}

// TestICMPAndGateway sends real echo requests: ICMP type and code narrow a
// rule, a drop of one type leaves the others, and the gateway controller
// reaches the router itself.
func TestICMPAndGateway(t *testing.T) {
	e, _ := openEnforcer(t, "")
	const (
		inet2  = "10.77.9.2"
		inet26 = "fd77:9::2"
		router = "10.77.1.1"
	)
	web := `{"name":"web","matches":{"tcp":{"destination-port":{"port":80}}},"actions":{"forwarding":"accept"}}`
	tests := []struct {
		name, typ, aces string
		pings           map[string]bool // destination: answered
	}{
		{"echo allowed", "ipv4-acl-type",
			`{"name":"echo","matches":{"icmp":{"type":8,"code":0}},"actions":{"forwarding":"accept"}}`,
			map[string]bool{inet2: true, router: true}}, // "anywhere" includes the router
		{"only timestamps: no echo", "ipv4-acl-type",
			`{"name":"ts","matches":{"icmp":{"type":13}},"actions":{"forwarding":"accept"}}`,
			map[string]bool{inet2: false}},
		{"echo with another code: no echo", "ipv4-acl-type",
			`{"name":"echo1","matches":{"icmp":{"type":8,"code":1}},"actions":{"forwarding":"accept"}}`,
			map[string]bool{inet2: false}},
		{"timestamps dropped, other ICMP allowed", "ipv4-acl-type",
			`{"name":"no-ts","matches":{"icmp":{"type":13}},"actions":{"forwarding":"drop"}},
			 {"name":"icmp","matches":{"icmp":{}},"actions":{"forwarding":"accept"}}`,
			map[string]bool{inet2: true}},
		{"ICMPv6 echo", "ipv6-acl-type",
			`{"name":"echo6","matches":{"icmp":{"type":128}},"actions":{"forwarding":"accept"}}`,
			map[string]bool{inet26: true, inet2: false}},
		{"ICMPv6 echo replies only: no echo", "ipv6-acl-type",
			`{"name":"reply6","matches":{"icmp":{"type":129}},"actions":{"forwarding":"accept"}}`,
			map[string]bool{inet26: false}},
		{"the gateway: echo to the router only", "ipv4-acl-type",
			`{"name":"gw","matches":{"ietf-mud:mud":{"controller":"urn:ietf:params:mud:gateway"},"icmp":{"type":8}},"actions":{"forwarding":"accept"}},` + web,
			map[string]bool{router: true, inet2: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.Apply(context.Background(), dev(nsD1, mudFile(t, tt.typ, tt.aces), "maker.example")); err != nil {
				t.Fatal(err)
			}
			for dst, ok := range tt.pings {
				timeout := flowTimeout
				if ok {
					timeout = allowedTimeout
				}
				err := pingWithin(nsD1, dst, timeout)
				switch {
				case ok && err != nil:
					t.Errorf("ping %s: %v", dst, err)
				case !ok && err == nil:
					t.Errorf("ping %s answered", dst)
				}
			}
			if t.Failed() {
				out, _ := exec.Command("ip", "netns", "exec", nsRouter, "nft", "list", "ruleset").CombinedOutput()
				t.Logf("ruleset:\n%s", out)
			}
		})
	}
	// The gateway with a port reaches that port of the router, nothing
	// else: the router is not a neighbour or the internet.
	gw := `{"name":"gw","matches":{"ietf-mud:mud":{"controller":"urn:ietf:params:mud:gateway"},"tcp":{"destination-port":{"port":80}}},"actions":{"forwarding":"accept"}}`
	if err := e.Apply(context.Background(), dev(nsD1, mudFile(t, "ipv4-acl-type", gw), "maker.example")); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{
		{nsD1, "tcp", router + ":80", true},
		{nsD1, "tcp", router + ":22", false},
		{nsD1, "tcp", inet2 + ":80", false},
		{nsD1, "tcp", "10.77.1.12:80", false},
	})
}
