package brski

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// mdnsResponder is a test-only DNS-SD responder announcing a registrar at
// addr:port on interface ifname of ns, answering by unicast as RFC 6762
// §6.7 asks for queries from an ephemeral port.
func mdnsResponder(t *testing.T, ns netns, ifname string, addr netip.Addr, port uint16) *atomic.Int64 {
	return mdnsResponderFunc(t, ns, ifname, addr, func(int64) uint16 { return port })
}

// mdnsResponderFunc announces the port port(n) for the n-th query.
func mdnsResponderFunc(t *testing.T, ns netns, ifname string, addr netip.Addr, port func(n int64) uint16) *atomic.Int64 {
	t.Helper()
	var queries atomic.Int64
	var c *net.UDPConn
	err := ns.do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		c, err = net.ListenMulticastUDP("udp6", ifi, &net.UDPAddr{IP: mdnsGroup.AsSlice(), Port: mdnsPort})
		return err
	})
	if err != nil {
		t.Fatalf("mDNS responder: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 9000)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var q dnsmessage.Message
			if q.Unpack(buf[:n]) != nil || len(q.Questions) != 1 || q.Questions[0].Name.String() != registrarService {
				continue
			}
			k := queries.Add(1)
			svc := dnsmessage.MustNewName(registrarService)
			inst := dnsmessage.MustNewName("registrar._brski-registrar._tcp.local.")
			host := dnsmessage.MustNewName("registrar.local.")
			hdr := func(n dnsmessage.Name, typ dnsmessage.Type) dnsmessage.ResourceHeader {
				return dnsmessage.ResourceHeader{Name: n, Type: typ, Class: dnsmessage.ClassINET, TTL: 120}
			}
			a := dnsmessage.Message{
				Header:    dnsmessage.Header{ID: q.Header.ID, Response: true, Authoritative: true},
				Questions: q.Questions,
				Answers:   []dnsmessage.Resource{{Header: hdr(svc, dnsmessage.TypePTR), Body: &dnsmessage.PTRResource{PTR: inst}}},
				Additionals: []dnsmessage.Resource{
					{Header: hdr(inst, dnsmessage.TypeSRV), Body: &dnsmessage.SRVResource{Target: host, Port: port(k)}},
					{Header: hdr(host, dnsmessage.TypeAAAA), Body: &dnsmessage.AAAAResource{AAAA: addr.As16()}},
				},
			}
			b, err := a.Pack()
			if err != nil {
				continue
			}
			c.WriteToUDP(b, from)
		}
	}()
	return &queries
}

// TestProxyDiscoversRegistrar: with no registrar_host, the proxy finds
// the registrar by mDNS upstream and relays the pledge there, while a
// rogue "registrar" on the join segment is never even asked.
func TestProxyDiscoversRegistrar(t *testing.T) {
	l := newLab(t)
	genuine := mdnsResponder(t, l.registrar, "rg0", netip.MustParseAddr("fe80::12"), registrarPort)
	rogue := mdnsResponder(t, l.pledge, "pl0", netip.MustParseAddr("fe80::2"), 8443)

	p := NewProxy(slogFor(t), Config{Interfaces: []string{"lan0"}, Port: 8460, MaxConnections: 8, MaxPerSource: 4, IdleTimeout: time.Minute})
	p.net = nsNetwork{l.router}
	runProxy(t, p)

	resp, err := l.pledgeClient("[fe80::1%pl0]:8460").Post("https://registrar.test/.well-known/brski/requestvoucher", "application/voucher-cms+json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("voucher request: %v (registrar %+v)", err, p.Status().Registrar)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "voucher for "+pledgeCN+": {}" {
		t.Errorf("voucher request: %s %q", resp.Status, body)
	}
	reg := p.Status().Registrar
	if reg.Source != "mdns" || reg.Address != "[fe80::12%wan0]:8443" || reg.Error != "" {
		t.Errorf("registrar %+v", reg)
	}
	if genuine.Load() == 0 || rogue.Load() != 0 {
		t.Errorf("queries: %d upstream, %d on the join segment (want some, none)", genuine.Load(), rogue.Load())
	}
}

// TestPledgeFindsProxyByMDNS: a pledge hears the proxy's unsolicited
// _brski-proxy._tcp announcement, and also gets an answer when it asks;
// either leads it to the proxy and its voucher.
func TestPledgeFindsProxyByMDNS(t *testing.T) {
	l := newLab(t)
	var listen *net.UDPConn
	var zone string
	err := l.pledge.do(func() error {
		ifi, err := net.InterfaceByName("pl0")
		if err != nil {
			return err
		}
		zone = strconv.Itoa(ifi.Index)
		listen, err = net.ListenMulticastUDP("udp6", ifi, &net.UDPAddr{IP: mdnsGroup.AsSlice(), Port: mdnsPort})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer listen.Close()

	p := NewProxy(slogFor(t), Config{Interfaces: []string{"lan0"}, Port: 8470, MaxConnections: 8, MaxPerSource: 4,
		IdleTimeout: time.Minute, RegistrarHost: "fe80::12%wan0", RegistrarPort: registrarPort, AnnounceInterval: time.Hour, MDNS: true})
	p.net = nsNetwork{l.router}
	runProxy(t, p)

	voucher := func(ep netip.AddrPort) {
		t.Helper()
		resp, err := l.pledgeClient(netip.AddrPortFrom(ep.Addr().WithZone("pl0"), ep.Port()).String()).Post(
			"https://registrar.test/.well-known/brski/requestvoucher", "application/voucher-cms+json", strings.NewReader("{}"))
		if err != nil {
			t.Fatalf("voucher request via %s: %v", ep, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("voucher request via %s: %s", ep, resp.Status)
		}
	}
	want := netip.MustParseAddrPort("[fe80::1]:8470")

	// Unasked.
	listen.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 9000)
	for {
		n, _, err := listen.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no mDNS announcement: %v", err)
		}
		ep, err := serviceFromAnswer(buf[:n], proxyService, 0)
		if err != nil {
			continue // e.g. our own query below, or other traffic
		}
		if ep != want {
			t.Fatalf("announced %s, want %s", ep, want)
		}
		voucher(ep)
		break
	}

	// Asked, from an ephemeral port: answered by unicast.
	q := l.udp(t, l.pledge, "[fe80::2%pl0]:0")
	msg, err := mdnsQuery(0x5150, proxyService)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.WriteToUDP(msg, &net.UDPAddr{IP: mdnsGroup.AsSlice(), Zone: zone, Port: mdnsPort}); err != nil {
		t.Fatal(err)
	}
	b, from := readUDP(t, q)
	ep, err := serviceFromAnswer(b, proxyService, 0x5150)
	if err != nil || ep != want || !from.IP.Equal(net.ParseIP("fe80::1")) {
		t.Fatalf("answer from %s: %s, %v", from, ep, err)
	}
	voucher(ep)

	// Asking for the host's address alone (a pledge whose cache holds
	// only the SRV record) gets it too.
	hq, _ := dnsmessage.NewName("trustjoin-brski-lan0.local.")
	aq := dnsmessage.Message{Header: dnsmessage.Header{ID: 0x5151},
		Questions: []dnsmessage.Question{{Name: hq, Type: dnsmessage.TypeAAAA, Class: dnsmessage.ClassINET}}}
	msg, _ = aq.Pack()
	if _, err := q.WriteToUDP(msg, &net.UDPAddr{IP: mdnsGroup.AsSlice(), Zone: zone, Port: mdnsPort}); err != nil {
		t.Fatal(err)
	}
	b, _ = readUDP(t, q)
	var am dnsmessage.Message
	if err := am.Unpack(b); err != nil || am.Header.ID != 0x5151 {
		t.Fatalf("AAAA answer: %v", err)
	}
	found := false
	for _, r := range append(am.Answers, am.Additionals...) {
		if aaaa, ok := r.Body.(*dnsmessage.AAAAResource); ok && r.Header.Name == hq && netip.AddrFrom16(aaaa.AAAA) == want.Addr() {
			found = true
		}
	}
	if !found {
		t.Errorf("no AAAA fe80::1 for %s in %+v", hq, am)
	}
}

// TestProxyFindsRegistrarAgain: when the registrar found by mDNS stops
// answering, the proxy looks for it again and follows it, within the same
// pledge connection.
func TestProxyFindsRegistrarAgain(t *testing.T) {
	l := newLab(t)
	// First answer: a port nobody listens on (the registrar moved).
	queries := mdnsResponderFunc(t, l.registrar, "rg0", netip.MustParseAddr("fe80::12"), func(n int64) uint16 {
		if n == 1 {
			return 9999
		}
		return registrarPort
	})
	p := NewProxy(slogFor(t), Config{Interfaces: []string{"lan0"}, Port: 8461, MaxConnections: 8, MaxPerSource: 4, IdleTimeout: time.Minute})
	p.net = nsNetwork{l.router}
	runProxy(t, p)
	resp, err := l.pledgeClient("[fe80::1%pl0]:8461").Post("https://registrar.test/.well-known/brski/requestvoucher", "application/voucher-cms+json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("voucher request: %v (registrar %+v)", err, p.Status().Registrar)
	}
	resp.Body.Close()
	st := p.Status()
	if resp.StatusCode != http.StatusOK || queries.Load() != 2 || st.Registrar.Address != "[fe80::12%wan0]:8443" || st.Counters.RegistrarFailures != 0 {
		t.Errorf("%s after %d queries; registrar %+v, counters %+v", resp.Status, queries.Load(), st.Registrar, st.Counters)
	}
}

// TestProxyWithoutMDNSPort: when port 5353 is held by a responder that
// does not share it, the proxy still runs (GRASP still announces it) and
// says why mDNS is missing.
func TestProxyWithoutMDNSPort(t *testing.T) {
	l := newLab(t)
	l.udp(t, l.router, "[::]:5353") // no SO_REUSEADDR: not shared
	p := NewProxy(slogFor(t), Config{Interfaces: []string{"lan0"}, Port: 8480, MaxConnections: 8, MaxPerSource: 4,
		IdleTimeout: time.Minute, RegistrarHost: "fe80::12%wan0", RegistrarPort: registrarPort, MDNS: true})
	p.net = nsNetwork{l.router}
	runProxy(t, p)
	st := p.Status()
	if len(st.Problems) != 1 || !strings.Contains(st.Problems[0], "mDNS: listen udp6 [::]:5353") || len(st.Listeners) != 1 {
		t.Errorf("problems %q, listeners %q", st.Problems, st.Listeners)
	}
}
