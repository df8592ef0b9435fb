package brski

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

const jpyPort = 5685

// startStateless runs the stateless proxy in the router namespace on lan0,
// towards the registrar's JPY port.
func (l *lab) startStateless(t *testing.T, opts ...func(*StatelessConfig)) *Stateless {
	t.Helper()
	cfg := StatelessConfig{
		Interfaces: []string{"lan0"}, Port: 5684, RegistrarHost: "fe80::12%wan0", JPYPort: jpyPort, DiscoveryPort: CoAPPort,
		KeyRotation: time.Hour, KeyGrace: time.Minute,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := NewStateless(slog.New(slog.NewTextHandler(testWriter{t}, nil)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.net = nsNetwork{l.router}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("stateless proxy stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatalf("stateless proxy not listening: %v", s.Status().Problems)
	}
	return s
}

func (l *lab) udp(t *testing.T, ns netns, addr string) *net.UDPConn {
	t.Helper()
	pc, err := nsNetwork{ns}.ListenPacket(context.Background(), "udp6", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.(*net.UDPConn)
}

func readUDP(t *testing.T, c *net.UDPConn) ([]byte, *net.UDPAddr) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 4096)
	n, from, err := c.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("%s: %v", c.LocalAddr(), err)
	}
	return buf[:n], from
}

// TestStatelessRoundTrip: two pledges' datagrams reach the registrar in
// JPY messages whose header hides them, and the registrar's answers, sent
// back with the header alone to go by, reach the right pledge.
func TestStatelessRoundTrip(t *testing.T) {
	l := newLab(t)
	s := l.startStateless(t)
	reg := l.udp(t, l.registrar, fmt.Sprintf("[fe80::12%%rg0]:%d", jpyPort))
	p2 := l.udp(t, l.pledge, "[fe80::2%pl0]:0")
	p3 := l.udp(t, l.pledge, "[fe80::3%pl0]:0")
	// The pledge finds the join port by CoAP discovery on ff02::fd and
	// uses the address the answer came from (draft -20 §5.2).
	ifi, _, err := nsNetwork{l.pledge}.Interface("pl0")
	if err != nil {
		t.Fatal(err)
	}
	zone := strconv.Itoa(ifi.Index)
	req := discoveryRequest(coapNON, "brski-jp=*")
	if _, err := p2.WriteToUDP(req.marshal(), &net.UDPAddr{IP: AllCoAPNodes[:], Zone: zone, Port: CoAPPort}); err != nil {
		t.Fatal(err)
	}
	b, from := readUDP(t, p2)
	answer, err := parseCoAP(b)
	if err != nil {
		t.Fatalf("discovery answer %x: %v", b, err)
	}
	var port int
	if _, err := fmt.Sscanf(string(answer.payload), "<>;brski-jp=%d", &port); err != nil || !bytes.Equal(answer.token, req.token) {
		t.Fatalf("discovery answer %+v: %v", answer, err)
	}
	if !from.IP.Equal(net.ParseIP("fe80::1")) || port != 5684 {
		t.Fatalf("discovery answered from %s with port %d, want fe80::1 and 5684", from, port)
	}
	proxy := &net.UDPAddr{IP: from.IP, Zone: zone, Port: port}

	hello := map[*net.UDPConn][]byte{p2: []byte("\x16\xfe\xfdClientHello from 2"), p3: []byte("\x16\xfe\xfdClientHello from 3")}
	for _, p := range []*net.UDPConn{p2, p3} {
		if _, err := p.WriteToUDP(hello[p], proxy); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		msg, from := readUDP(t, reg)
		h, c, err := DecodeJPY(msg)
		if err != nil {
			t.Fatalf("registrar got %x: %v", msg, err)
		}
		if len(h) != headerSize {
			t.Errorf("header of %d bytes, want %d", len(h), headerSize)
		}
		reply := MarshalJPY(h, append([]byte("answer to "), c...))
		if _, err := reg.WriteToUDP(reply, from); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*net.UDPConn{p2, p3} {
		got, from := readUDP(t, p)
		if want := append([]byte("answer to "), hello[p]...); !bytes.Equal(got, want) {
			t.Errorf("pledge %s got %q, want %q", p.LocalAddr(), got, want)
		}
		if !from.IP.Equal(proxy.IP) || from.Port != 5684 {
			t.Errorf("answer came from %s, want the proxy's join port", from)
		}
	}
	st := s.Status().Counters
	if st.ToRegistrar != 2 || st.ToPledge != 2 || st.Discoveries != 1 {
		t.Errorf("counters %+v", st)
	}
}

// TestStatelessDropsForgeries: tampered, forged, malformed and off-path
// messages never reach the pledge.
func TestStatelessDropsForgeries(t *testing.T) {
	l := newLab(t)
	s := l.startStateless(t)
	reg := l.udp(t, l.registrar, fmt.Sprintf("[fe80::12%%rg0]:%d", jpyPort))
	intruder := l.udp(t, l.registrar, "[fe80::12%rg0]:0")
	p := l.udp(t, l.pledge, "[fe80::2%pl0]:0")
	ifi, _, err := nsNetwork{l.pledge}.Interface("pl0")
	if err != nil {
		t.Fatal(err)
	}
	zone := strconv.Itoa(ifi.Index) // see byIndex
	if _, err := p.WriteToUDP([]byte("hello"), &net.UDPAddr{IP: net.ParseIP("fe80::1"), Zone: zone, Port: 5684}); err != nil {
		t.Fatal(err)
	}
	msg, proxy := readUDP(t, reg)
	h, _, err := DecodeJPY(msg)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newHeaderKeys(time.Hour, time.Minute, time.Now)
	forged, _ := other.seal(2, p.LocalAddr().(*net.UDPAddr).AddrPort())
	tampered := bytes.Clone(h)
	tampered[len(tampered)-20] ^= 0x01
	send := func(c *net.UDPConn, b []byte) {
		t.Helper()
		if _, err := c.WriteToUDP(b, proxy); err != nil {
			t.Fatal(err)
		}
	}
	jpy := func(h []byte, c string) []byte { return MarshalJPY(h, []byte(c)) }
	send(reg, jpy(tampered, "evil: tampered"))
	send(reg, jpy(forged, "evil: forged"))
	send(reg, jpy(h[:20], "evil: truncated"))
	send(reg, []byte("evil: not CBOR"))
	send(intruder, jpy(h, "evil: not from the registrar port"))
	waitFor(t, "five drops", func() bool {
		c := s.Status().Counters
		return c.DroppedHeader == 3 && c.DroppedMalformed == 1 && c.DroppedSource == 1
	})
	send(reg, jpy(h, "good"))
	if got, _ := readUDP(t, p); string(got) != "good" {
		t.Errorf("pledge got %q first, want only the genuine answer", got)
	}
}

// TestStatelessAdmit: the stateless proxy asks the authorisation hook
// once per pledge address. A refused pledge's datagrams never reach the
// registrar and the hook is not asked again meanwhile; an allowed
// pledge's latest datagram, held while the hook decided, is relayed, and
// the ones after it go straight through.
func TestStatelessAdmit(t *testing.T) {
	l := newLab(t)
	var mu sync.Mutex
	var asked []string
	decide := make(chan struct{})
	s := l.startStateless(t, func(c *StatelessConfig) {
		c.Admit = func(ctx context.Context, pledge netip.AddrPort, ifname string) error {
			mu.Lock()
			asked = append(asked, pledge.Addr().String()+"%"+ifname)
			mu.Unlock()
			if pledge.Addr() == netip.MustParseAddr("fe80::2") {
				return errors.New("the authorisation hook refused this device a credential")
			}
			select {
			case <-decide:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	reg := l.udp(t, l.registrar, fmt.Sprintf("[fe80::12%%rg0]:%d", jpyPort))
	p2 := l.udp(t, l.pledge, "[fe80::2%pl0]:0")
	p3 := l.udp(t, l.pledge, "[fe80::3%pl0]:0")
	ifi, _, err := nsNetwork{l.pledge}.Interface("pl0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := &net.UDPAddr{IP: net.ParseIP("fe80::1"), Zone: strconv.Itoa(ifi.Index), Port: 5684}
	send := func(c *net.UDPConn, b string) {
		t.Helper()
		if _, err := c.WriteToUDP([]byte(b), proxy); err != nil {
			t.Fatal(err)
		}
	}
	relayed := func() string {
		t.Helper()
		msg, _ := readUDP(t, reg)
		_, c, err := DecodeJPY(msg)
		if err != nil {
			t.Fatalf("registrar got %x: %v", msg, err)
		}
		return string(c)
	}

	send(p2, "refused 1")
	waitFor(t, "the refusal", func() bool { return s.Status().Counters.RefusedHook == 1 })
	send(p3, "hello 1")
	waitFor(t, "the hook to be asked about fe80::3", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(asked) == 2
	})
	send(p3, "hello 2")
	waitFor(t, "hello 2 to be held", func() bool {
		s.gate.mu.Lock()
		defer s.gate.mu.Unlock()
		for k, e := range s.gate.pledges {
			if k.addr == netip.MustParseAddr("fe80::3") {
				return string(e.held) == "hello 2"
			}
		}
		return false
	})
	close(decide)
	if got := relayed(); got != "hello 2" {
		t.Errorf("registrar got %q first, want the held datagram", got)
	}
	send(p2, "refused 2")
	waitFor(t, "the refused pledge's datagram to be dropped", func() bool { return s.Status().Counters.DroppedHook == 1 })
	send(p3, "hello 3")
	if got := relayed(); got != "hello 3" {
		t.Errorf("registrar got %q, want the allowed pledge's next datagram", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"fe80::2%lan0", "fe80::3%lan0"}; !slices.Equal(asked, want) {
		t.Errorf("the hook was asked about %q, want %q", asked, want)
	}
}
