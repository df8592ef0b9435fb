package brski

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-cmp/cmp"
)

// TestPledgeDiscoversProxy: the pledge learns where the proxy is only from
// the GRASP flood it receives on ff02::13 port 7017, then gets its voucher
// through it.
func TestPledgeDiscoversProxy(t *testing.T) {
	l := newLab(t)
	var mc *net.UDPConn
	err := l.pledge.do(func() error {
		ifi, err := net.InterfaceByName("pl0")
		if err != nil {
			return err
		}
		mc, err = net.ListenMulticastUDP("udp6", ifi, &net.UDPAddr{IP: AllGRASPNeighbors.AsSlice(), Port: GRASPPort})
		return err
	})
	if err != nil {
		t.Fatalf("pledge cannot listen for GRASP: %v", err)
	}
	defer mc.Close()

	p := l.startProxy(t, Config{Port: 8450, MaxConnections: 8, MaxPerSource: 4, IdleTimeout: time.Minute, AnnounceInterval: time.Hour})

	mc.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 4096)
	n, from, err := mc.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no GRASP flood received: %v", err)
	}
	f, err := DecodeFlood(buf[:n])
	if err != nil {
		t.Fatalf("flood from %s: %v", from, err)
	}
	ll := netip.MustParseAddr("fe80::1")
	want := Flood{SessionID: f.SessionID, Initiator: ll, TTL: 180000, Objectives: []FloodObjective{{
		Name: "AN_Proxy", Flags: 4, LoopCount: 1, Value: cbor.RawMessage{0x60},
		Locator: &Locator{Option: 103, Addr: ll, Proto: 6, Port: 8450},
	}}}
	if diff := cmp.Diff(want, f, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("flood (-want +got):\n%s", diff)
	}
	if from.Addr().WithZone("") != ll {
		t.Errorf("flood sent from %s, want the proxy's link-local fe80::1", from)
	}
	// The zone is the interface the flood arrived on.
	ep, err := f.Announced(ObjectiveProxy, from.Addr().WithZone("pl0"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := l.pledgeClient(ep.String()).Post("https://registrar.test/.well-known/brski/requestvoucher", "application/voucher-cms+json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("voucher request to the discovered proxy %s: %v", ep, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "voucher for "+pledgeCN+": {}" {
		t.Errorf("voucher request: %s %q", resp.Status, body)
	}
	if got := p.Status().Counters.Announcements; got != 1 {
		t.Errorf("announcements counted: %d, want 1", got)
	}
}
