package brski

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
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

// sendFlood sends f from src (link-local, on ifname in ns) to dst, port 7017.
func sendFlood(t *testing.T, ns netns, ifname, src, dst string, f Flood) {
	t.Helper()
	b, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ifi, _, err := nsNetwork{ns}.Interface(ifname)
	if err != nil {
		t.Fatal(err)
	}
	zone := strconv.Itoa(ifi.Index)
	pc, err := nsNetwork{ns}.ListenPacket(context.Background(), "udp6", "["+src+"%"+zone+"]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.WriteTo(b, &net.UDPAddr{IP: net.ParseIP(dst), Zone: zone, Port: GRASPPort}); err != nil {
		t.Fatal(err)
	}
}

func registrarFlood(addr string, port uint16) Flood {
	a := netip.MustParseAddr(addr)
	return Flood{SessionID: 1, Initiator: a, TTL: 180000, Objectives: []FloodObjective{{
		Name: ObjectiveRegistrar, Flags: 4, LoopCount: 255, Value: cbor.RawMessage("\x67EST-TLS"),
		Locator: &Locator{Option: 103, Addr: a, Proto: 6, Port: port},
	}}}
}

// TestProxyHearsRegistrarFlood: with no registrar_host, the proxy takes
// the registrar from a GRASP AN_join_registrar flood heard upstream, and
// ignores one sent from the join segment.
func TestProxyHearsRegistrarFlood(t *testing.T) {
	l := newLab(t)
	p := NewProxy(slogFor(t), Config{Interfaces: []string{"lan0"}, Port: 8490, MaxConnections: 8, MaxPerSource: 4, IdleTimeout: time.Minute})
	p.net = nsNetwork{l.router}
	runProxy(t, p)

	// A rogue on the join segment, straight at the router (unicast, so
	// it surely reaches the proxy's socket): heard, ignored.
	sendFlood(t, l.pledge, "pl0", "fe80::2", "fe80::1", registrarFlood("fe80::2", 8443))
	waitFor(t, "the rogue flood to be ignored", func() bool { return p.Status().Counters.GRASPIgnored == 1 })
	if reg := p.Status().Registrar; reg.Source != "mdns" || reg.Address != "" {
		t.Fatalf("registrar after the rogue flood: %+v", reg)
	}
	sendFlood(t, l.registrar, "rg0", "fe80::12", AllGRASPNeighbors.String(), registrarFlood("fe80::12", registrarPort))
	waitFor(t, "the registrar's flood to be heard", func() bool { return p.Status().Registrar.Source == "grasp" })

	resp, err := l.pledgeClient("[fe80::1%pl0]:8490").Post("https://registrar.test/.well-known/brski/requestvoucher", "application/voucher-cms+json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("voucher request: %v (registrar %+v)", err, p.Status().Registrar)
	}
	resp.Body.Close()
	reg := p.Status().Registrar
	if resp.StatusCode != http.StatusOK || reg.Source != "grasp" || reg.Address != "[fe80::12%wan0]:8443" {
		t.Errorf("%s; registrar %+v", resp.Status, reg)
	}
}
