package behaviour

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var camMAC = net.HardwareAddr{2, 0, 0, 0, 0, 1}

type rig struct {
	r     *Recorder
	now   time.Time
	trips []Trip
	opens []Flow
}

func newRig(p Policy) *rig {
	g := &rig{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	g.r = NewRecorder(Options{
		Device: func(m net.HardwareAddr) (string, bool) { return "cam", m.String() == camMAC.String() },
		Policy: func(string) Policy { return p },
		OnTrip: func(t Trip) { g.trips = append(g.trips, t) },
		OnOpen: func(_ string, f Flow, _ time.Time) { g.opens = append(g.opens, f) },
		Now:    func() time.Time { return g.now },
	})
	return g
}

// send logs a packet from the camera (10.0.20.5) with the given prefix.
func (g *rig) send(prefix, dst string, proto uint8, port uint16) {
	var l4 []byte
	if proto == 1 {
		l4 = []byte{byte(port), 0, 0, 0}
	} else {
		l4 = ports(40000, port)
	}
	g.r.Handle(Packet{Prefix: prefix, MAC: camMAC, Payload: ipv4("10.0.20.5", dst, proto, l4)})
}

// answer logs the router's DNS answer to the camera.
func (g *rig) answer(t *testing.T, name string, addrs ...string) {
	udp := append(ports(53, 40001, 0, 0, 0, 0), dnsAnswer(t, name, "", 30, addrs...)...)
	g.r.Handle(Packet{Prefix: PrefixDNS, Payload: ipv4("10.0.20.1", "10.0.20.5", 17, udp)})
}

func TestHistory(t *testing.T) {
	t.Parallel()
	g := newRig(Policy{Mode: Off})
	g.answer(t, "cloud.mfg.example", "192.0.2.10")
	g.send(PrefixOpen, "192.0.2.10", 6, 443)
	g.now = g.now.Add(time.Second)
	g.send(PrefixDrop, "198.51.100.7", 6, 23)
	g.send(PrefixDrop, "198.51.100.7", 6, 23)
	g.now = g.now.Add(time.Second)
	g.send(PrefixDrop, "10.0.20.1", 1, 8)
	// A device chain's rule names the device; an inbound connection is
	// the other side's address and the camera's port.
	g.now = g.now.Add(time.Second)
	g.r.Handle(Packet{Prefix: PrefixIn + " cam", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 7}, Payload: ipv4("10.0.10.7", "10.0.20.5", 6, ports(50000, 8443))})
	g.r.Handle(Packet{Prefix: PrefixDrop + " other", Payload: ipv4("10.0.20.8", "10.0.20.1", 6, ports(1, 22))})
	// Not the camera's: counted, not recorded.
	g.r.Handle(Packet{Prefix: PrefixDrop, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}, Payload: ipv4("10.0.20.9", "10.0.20.1", 6, ports(1, 22))})
	g.r.Handle(Packet{Prefix: "someone-else", MAC: camMAC, Payload: ipv4("10.0.20.5", "10.0.20.1", 6, ports(1, 22))})

	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	want := History{Dropped: 3, Opened: 1, Inbound: 1, Entries: []Entry{
		{Flow: Flow{Verdict: Inbound, Proto: 6, Addr: ip("10.0.10.7"), Port: 8443}, Count: 1, First: t0.Add(3 * time.Second), Last: t0.Add(3 * time.Second)},
		{Flow: Flow{Verdict: Dropped, Proto: 1, Addr: ip("10.0.20.1"), Port: 8}, Count: 1, First: t0.Add(2 * time.Second), Last: t0.Add(2 * time.Second)},
		{Flow: Flow{Verdict: Dropped, Proto: 6, Addr: ip("198.51.100.7"), Port: 23}, Count: 2, First: t0.Add(time.Second), Last: t0.Add(time.Second)},
		{Flow: Flow{Verdict: Opened, Proto: 6, Addr: ip("192.0.2.10"), Port: 443, Name: "cloud.mfg.example"}, Count: 1, First: t0, Last: t0},
	}}
	if diff := cmp.Diff(want, g.r.History("cam"), addrCmp); diff != "" {
		t.Fatalf("history (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Flow{{Verdict: Opened, Proto: 6, Addr: ip("192.0.2.10"), Port: 443, Name: "cloud.mfg.example"}, {Verdict: Inbound, Proto: 6, Addr: ip("10.0.10.7"), Port: 8443}}, g.opens, addrCmp); diff != "" {
		t.Fatalf("opened connections told (-want +got):\n%s", diff)
	}
	if n := g.r.Unattributed(); n != 1 {
		t.Fatalf("unattributed = %d, want 1", n)
	}
	if h := g.r.History("other"); h.Dropped != 1 {
		t.Fatalf("history of the device a rule named = %+v, want its drop", h)
	}
	g.r.Clear("cam")
	if h := g.r.History("cam"); h.Dropped != 0 || len(h.Entries) != 0 {
		t.Fatalf("history after Clear = %+v", h)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	t.Parallel()
	g := newRig(Policy{Mode: Off})
	for i := 0; i < 100; i++ {
		g.send(PrefixDrop, "198.51.100.7", 6, uint16(1000+i))
		g.now = g.now.Add(time.Second)
	}
	h := g.r.History("cam")
	if len(h.Entries) != 16 || h.Dropped != 100 {
		t.Fatalf("history holds %d entries and %d drops, want the 16 latest and 100", len(h.Entries), h.Dropped)
	}
	if h.Entries[0].Port != 1099 || h.Entries[15].Port != 1084 {
		t.Fatalf("history kept ports %d..%d, want the latest 1084..1099", h.Entries[15].Port, h.Entries[0].Port)
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	p := Policy{Mode: Quarantine, Threshold: 10, Window: 10 * time.Minute}

	t.Run("one blocked name over a CDN's many addresses does not trip", func(t *testing.T) {
		t.Parallel()
		g := newRig(p)
		for i := 0; i < 200; i++ {
			addr := "192.0.2." + itoa(10+i%40)
			g.answer(t, "telemetry.mfg.example", addr)
			g.send(PrefixDrop, addr, 6, 443)
			g.now = g.now.Add(2 * time.Second)
		}
		if len(g.trips) != 0 {
			t.Fatalf("tripped: %s", g.trips[0].Reason())
		}
	})

	t.Run("scanning the network trips once a window", func(t *testing.T) {
		t.Parallel()
		g := newRig(p)
		for i := 0; i < 9; i++ {
			g.send(PrefixDrop, "10.0.20."+itoa(100+i), 6, 23)
		}
		if len(g.trips) != 0 {
			t.Fatal("tripped below the threshold")
		}
		g.send(PrefixDrop, "10.0.20.109", 6, 23)
		if len(g.trips) != 1 {
			t.Fatalf("%d trips at the threshold, want 1", len(g.trips))
		}
		tr := g.trips[0]
		if tr.Device != "cam" || len(tr.Tried) != 10 || tr.Policy != p {
			t.Fatalf("trip = %+v", tr)
		}
		want := "tried 10 forbidden destinations within 10m0s: 10.0.20.10"
		if !strings.HasPrefix(tr.Reason(), want) || !strings.HasSuffix(tr.Reason(), ":23/tcp and 5 more") {
			t.Fatalf("reason = %q", tr.Reason())
		}
		for i := 0; i < 10; i++ {
			g.send(PrefixDrop, "10.0.21."+itoa(i), 6, 23)
		}
		if len(g.trips) != 1 {
			t.Fatalf("%d trips within one window, want 1", len(g.trips))
		}
		g.now = g.now.Add(11 * time.Minute)
		for i := 0; i < 10; i++ {
			g.send(PrefixDrop, "10.0.22."+itoa(i), 6, 23)
		}
		if len(g.trips) != 2 {
			t.Fatalf("%d trips after the window passed, want 2", len(g.trips))
		}
	})

	t.Run("tries spread wider than the window do not trip", func(t *testing.T) {
		t.Parallel()
		g := newRig(p)
		for i := 0; i < 30; i++ {
			g.send(PrefixDrop, "10.0.20."+itoa(100+i), 6, 23)
			g.now = g.now.Add(2 * time.Minute)
		}
		if len(g.trips) != 0 {
			t.Fatalf("tripped: %s", g.trips[0].Reason())
		}
	})

	t.Run("off never trips", func(t *testing.T) {
		t.Parallel()
		g := newRig(Policy{Mode: Off, Threshold: 1, Window: time.Minute})
		g.send(PrefixDrop, "10.0.20.100", 6, 23)
		if len(g.trips) != 0 {
			t.Fatal("tripped with watch off")
		}
	})

	t.Run("cleared after release, old drops do not trip again", func(t *testing.T) {
		t.Parallel()
		g := newRig(Policy{Mode: Quarantine, Threshold: 3, Window: time.Hour})
		for i := 0; i < 3; i++ {
			g.send(PrefixDrop, "10.0.20."+itoa(100+i), 6, 23)
		}
		g.now = g.now.Add(2 * time.Hour)
		g.r.Clear("cam")
		g.send(PrefixDrop, "10.0.20.100", 6, 23)
		if len(g.trips) != 1 {
			t.Fatalf("%d trips, want the first only", len(g.trips))
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestDestination(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		f    Flow
		want string
	}{
		{Flow{Proto: 6, Addr: ip("192.0.2.1"), Port: 443, Name: "cloud.example"}, "cloud.example:443/tcp"},
		{Flow{Proto: 17, Addr: ip("2001:db8::1"), Port: 123}, "[2001:db8::1]:123/udp"},
		{Flow{Proto: 1, Addr: ip("10.0.0.1"), Port: 8}, "10.0.0.1 ICMP type 8"},
		{Flow{Proto: 47, Addr: ip("10.0.0.1")}, "10.0.0.1 protocol 47"},
	} {
		if got := tt.f.Destination(); got != tt.want {
			t.Errorf("Destination(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}
