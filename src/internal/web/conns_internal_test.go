package web

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/httpd"
)

// dialFrom connects to addr from the loopback address src (all of
// 127.0.0.0/8 is the host's own on Linux). A connection reset before
// the dial returns is nil.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return nil
	}
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dropped reports whether the listener has let go of c: a read ends at
// once (EOF or reset) instead of waiting for data.
func dropped(c net.Conn) bool {
	if c == nil {
		return true
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, io.EOF)
}

func TestConnLimits(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cl := newConnLimits(4, 3, nil)
	admittedC := make(chan net.Conn, 16)
	droppedC := make(chan struct{}, 16)
	cl.onDrop = func() { droppedC <- struct{}{} }
	ll := cl.listener(l)
	go func() {
		for {
			c, err := ll.Accept()
			if err != nil {
				return
			}
			admittedC <- c // held open, as an idle keep-alive would be
		}
	}()
	addr := l.Addr().String()
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("no connection %s", what)
		}
	}
	var server []net.Conn
	admitted := func() {
		t.Helper()
		select {
		case c := <-admittedC:
			server = append(server, c)
		case <-time.After(5 * time.Second):
			t.Fatal("no connection admitted")
		}
	}

	// Three per client: the fourth from 127.0.0.2 is reset.
	a1 := dialFrom(t, "127.0.0.2", addr)
	admitted()
	for i := 0; i < 2; i++ {
		dialFrom(t, "127.0.0.2", addr)
		admitted()
	}
	a4 := dialFrom(t, "127.0.0.2", addr)
	wait(droppedC, "refused")
	if !dropped(a4) {
		t.Fatal("a fourth connection from one address was kept")
	}
	// Unless one of its three waits idle between requests: that one gives
	// way (a browser with tabs open keeps idle keep-alives).
	cl.connState(server[1], httpd.StateIdle)
	a5 := dialFrom(t, "127.0.0.2", addr)
	admitted()
	wait(droppedC, "evicted")
	if dropped(a5) {
		t.Fatal("a client at its share with an idle connection was refused")
	}
	if cl.held() != 3 {
		t.Fatalf("%d held, want 3", cl.held())
	}
	server = append(server[:1], server[2:]...)
	// Four in all.
	dialFrom(t, "127.0.0.3", addr)
	admitted()
	if cl.held() != 4 {
		t.Fatalf("%d held, want 4", cl.held())
	}
	// A newcomer still gets in: the oldest connection of the client
	// holding the most (127.0.0.2, three) gives way.
	dialFrom(t, "127.0.0.4", addr)
	admitted()
	wait(droppedC, "evicted")
	if !dropped(a1) {
		t.Fatal("the oldest connection of the heaviest client was not closed")
	}
	if cl.held() != 4 {
		t.Fatalf("%d held, want 4", cl.held())
	}
	// Then a second newcomer: 127.0.0.2 holds two, 127.0.0.3 and .4 one
	// each, the newcomer none: 127.0.0.2 gives way again.
	dialFrom(t, "127.0.0.5", addr)
	admitted()
	wait(droppedC, "evicted")
	// But a client with as many as the heaviest but one is refused.
	b := dialFrom(t, "127.0.0.3", addr)
	wait(droppedC, "refused")
	if !dropped(b) {
		t.Fatal("a client at its share took a place from another")
	}
	// Closing frees a place, once.
	server[3].Close()
	server[3].Close()
	if cl.held() != 3 {
		t.Fatalf("%d held after a close, want 3", cl.held())
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.168.1.20":         "192.168.1.20",
		"::ffff:192.168.1.20":  "192.168.1.20",
		"2001:db8:1:2:a:b:c:d": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"fe80::1%br-lan":       "fe80::/64",
	} {
		if got := clientKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("clientKey(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestFDGauge(t *testing.T) {
	n, ok := openFDs()
	if !ok {
		t.Skip("no /proc/self/fd")
	}
	now := time.Unix(0, 0)
	g := &fdGauge{now: func() time.Time { return now }, limit: n + fdReserve + 10}
	if g.short(0) {
		t.Fatal("short with 10 to spare")
	}
	// Between counts, the connections held since count.
	if !g.short(10) {
		t.Fatal("not short after 10 more connections")
	}
	now = now.Add(fdRecount)
	if g.short(10) {
		t.Fatal("short after a recount found nothing more open")
	}
}
