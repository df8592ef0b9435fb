package brski

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/config"
)

func TestProxyVoucherRequest(t *testing.T) {
	l := newLab(t)
	p := l.startProxy(t, Config{Port: 8443, MaxConnections: 8, MaxPerSource: 4, IdleTimeout: time.Minute})

	c := l.pledgeClient("[fe80::1%pl0]:8443")
	const vr = `{"ietf-voucher-request:voucher":{"nonce":"62a2e7693d82fcda2624de58fb6722e5"}}`
	resp, err := c.Post("https://registrar.test/.well-known/brski/requestvoucher", "application/voucher-cms+json", strings.NewReader(vr))
	if err != nil {
		t.Fatalf("voucher request through the proxy: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "voucher for "+pledgeCN+": "+vr {
		t.Fatalf("voucher request: %s %q", resp.Status, body)
	}
	if resp.TLS.Version != tls.VersionTLS13 || resp.TLS.PeerCertificates[0].Subject.CommonName != "registrar.test" {
		t.Errorf("pledge's TLS session is not with the registrar: version %x, peer %s", resp.TLS.Version, resp.TLS.PeerCertificates[0].Subject)
	}
	// The registrar saw the pledge's own certificate, over TLS 1.3, from
	// the router's upstream address: the proxy relayed, it did not
	// terminate TLS.
	want := []seenRequest{{ClientCN: pledgeCN, TLS: tls.VersionTLS13, Body: vr}}
	got := l.reg.requests()
	if len(got) == 1 {
		// Zone names are not checked: the test process spans namespaces,
		// so Go's interface-name cache mixes them up.
		if !strings.HasPrefix(got[0].Remote, "[fe80::11%") {
			t.Errorf("registrar saw the request from %s, want the proxy's fe80::11", got[0].Remote)
		}
		got[0].Remote = ""
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registrar saw (-want +got):\n%s", diff)
	}

	// The pledge's connection stays open (keep-alive): it is in flight.
	st := p.Status()
	if len(st.Pledges) != 1 || !strings.HasPrefix(st.Pledges[0].Source, "[fe80::") || st.Pledges[0].Interface != "lan0" ||
		st.Pledges[0].BytesToRegistrar == 0 || st.Pledges[0].BytesToPledge == 0 {
		t.Errorf("pledges in flight: %+v", st.Pledges)
	}
	wantReg := Registrar{Host: "fe80::12%wan0", Port: registrarPort, Address: "[fe80::12%wan0]:8443", Source: "config"}
	if diff := cmp.Diff(wantReg, st.Registrar); diff != "" {
		t.Errorf("registrar status (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"[fe80::1%lan0]:8443"}, st.Listeners); diff != "" {
		t.Errorf("listeners (-want +got):\n%s", diff)
	}
	if st.Counters.Accepted != 1 || st.Counters.Active != 1 || st.Counters.BytesToRegistrar < uint64(len(vr)) || st.Counters.BytesToPledge == 0 {
		t.Errorf("counters: %+v", st.Counters)
	}
	c.CloseIdleConnections()
	waitFor(t, "the pledge to leave", func() bool { return p.Status().Counters.Active == 0 })
}

// TestProxyNotAnOpenRelay: whatever the pledge asks, its bytes land at the
// registrar, and the pledge reaches nothing upstream by itself.
func TestProxyNotAnOpenRelay(t *testing.T) {
	l := newLab(t)
	l.startProxy(t, Config{Port: 8443, MaxConnections: 8, MaxPerSource: 4, IdleTimeout: time.Minute})

	// An HTTP proxy request for the decoy, in clear: the registrar (a TLS
	// server that recognises a POST) answers, the decoy is never contacted.
	c, err := l.dialFrom("fe80::2", 8443)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "POST http://[fe80::12]:%d/ HTTP/1.1\r\nHost: [fe80::12]:%d\r\n\r\n", decoyPort, decoyPort)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	if !strings.HasPrefix(line, "HTTP/1.0 400 Bad Request") {
		t.Errorf("answer %q, want the registrar's refusal of clear HTTP", line)
	}

	// Directly, the pledge reaches neither the registrar nor the decoy.
	for _, port := range []int{registrarPort, decoyPort} {
		// Neighbour discovery fails within 3 s; either error will do.
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		c, err := nsNetwork{l.pledge}.Dial(ctx, "tcp6", fmt.Sprintf("[fe80::12%%pl0]:%d", port))
		cancel()
		if err == nil {
			c.Close()
			t.Errorf("pledge reached [fe80::12]:%d without the proxy", port)
		}
	}
	if n := l.decoyHits.Load(); n != 0 {
		t.Errorf("decoy reached %d times", n)
	}
}

func TestProxyLimits(t *testing.T) {
	l := newLab(t)

	t.Run("caps", func(t *testing.T) {
		p := l.startProxy(t, Config{Port: 8444, MaxConnections: 3, MaxPerSource: 2, IdleTimeout: time.Minute})
		accepted := func(n uint64) func() bool {
			return func() bool { return p.Status().Counters.Accepted == n }
		}
		n := uint64(0)
		open := func(src string) {
			c, err := l.dialFrom(src, 8444)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			n++
			waitFor(t, fmt.Sprintf("connection %d to be accepted", n), accepted(n))
		}
		refused := func(src, why string) {
			t.Helper()
			// The reset may come before connect(2) has returned.
			c, err := l.dialFrom(src, 8444)
			if err == nil {
				defer c.Close()
				err = readErr(c)
			}
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("connection from %s beyond %s: %v, want a reset", src, why, err)
			}
		}
		open("fe80::2")
		open("fe80::2")
		refused("fe80::2", "max_per_source")
		open("fe80::3")
		refused("fe80::3", "max_connections")
		st := p.Status()
		if st.Counters.RefusedPerSource != 1 || st.Counters.RefusedTotal != 1 || st.Counters.Active != 3 || len(st.Pledges) != 3 {
			t.Errorf("counters %+v, %d pledges in flight", st.Counters, len(st.Pledges))
		}
	})

	t.Run("idle", func(t *testing.T) {
		p := l.startProxy(t, Config{Port: 8445, MaxConnections: 3, MaxPerSource: 2, IdleTimeout: time.Second})
		c, err := l.dialFrom("fe80::2", 8445)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("idle connection: read %v, want EOF", err)
		}
		waitFor(t, "the idle count", func() bool { return p.Status().Counters.IdleClosed == 1 })
	})

	t.Run("total", func(t *testing.T) {
		p := l.startProxy(t, Config{Port: 8446, MaxConnections: 3, MaxPerSource: 2, IdleTimeout: time.Minute, TotalTimeout: time.Second})
		c, err := l.dialFrom("fe80::2", 8446)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, errTimeout(err)) {
			t.Errorf("connection past its total time: read %v, want closed", err)
		}
		waitFor(t, "the timeout count", func() bool { return p.Status().Counters.TotalTimeouts == 1 })
	})

	t.Run("registrar down", func(t *testing.T) {
		// No such neighbour: the dial gives up after DialTimeout, a
		// second after the pledge sent its first bytes.
		p := l.startProxy(t, Config{Port: 8447, MaxConnections: 3, MaxPerSource: 2, IdleTimeout: time.Minute,
			RegistrarHost: "fe80::99%wan0", RegistrarPort: 9999, DialTimeout: time.Second})
		c, err := l.dialFrom("fe80::2", 8447)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The pledge has sent its ClientHello before the proxy gives up:
		// still an orderly end, not the reset that means a refusal.
		if _, err := c.Write([]byte("\x16\x03\x01\x00\x05hello")); err != nil {
			t.Fatal(err)
		}
		if err := readErr(c); err != io.EOF {
			t.Errorf("pledge with no registrar: read %v, want the end of the stream", err)
		}
		st := p.Status()
		if st.Counters.RegistrarFailures != 1 || !strings.Contains(st.Registrar.Error, "failed to reach registrar [fe80::99%wan0]:9999") {
			t.Errorf("registrar %+v, counters %+v", st.Registrar, st.Counters)
		}
	})
}

// readErr reads c until it fails and returns why: io.EOF for an orderly
// close, ECONNRESET for a reset.
func readErr(c net.Conn) error {
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if err == nil {
		return io.EOF
	}
	return err
}

// TestProxyPledgeRetries: with the shipped configuration, one pledge
// address gets as many connections through as a real pledge opens: two
// per voucher request (the nqminds pledge asks once with an empty body
// to learn the registrar's certificate), and up to four attempts in
// flight at once (RFC 8995 §5.1: a new attempt when one makes no progress
// for 5 s, while the registrar waits on its MASA). One more is reset at
// once, which the pledge can tell from a registrar that cannot be
// reached (an orderly close, TestProxyLimits).
func TestProxyPledgeRetries(t *testing.T) {
	l := newLab(t)
	cfg, err := config.Load("../../../files/etc/config/trustjoin")
	if err != nil {
		t.Fatal(err)
	}
	pc := ConfigFrom(cfg.BRSKI)
	pc.Interfaces, pc.Port = []string{"lan0"}, 8448
	pc.RegistrarHost, pc.RegistrarPort = "fe80::12%wan0", registrarPort
	p := l.startProxy(t, pc)

	tlsTo := func() (*tls.Conn, error) {
		c, err := l.dialFrom("fe80::2", 8448)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(c, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{l.pledgeCert},
			RootCAs: l.roots, ServerName: "registrar.test"})
		tc.SetDeadline(time.Now().Add(20 * time.Second))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
	const attempts, perAttempt = 4, 2
	for a := range attempts {
		for k := range perAttempt {
			c, err := tlsTo()
			if err != nil {
				t.Fatalf("attempt %d, connection %d: %v (counters %+v)", a+1, k+1, err, p.Status().Counters)
			}
			defer c.Close() // held open: the attempt is in flight
		}
	}
	if _, err := tlsTo(); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("one connection more: %v, want a reset", err)
	}
	if c := p.Status().Counters; c.Active != attempts*perAttempt || c.RefusedPerSource != 1 {
		t.Errorf("counters %+v", c)
	}
}

// errTimeout returns err itself when it is a timeout, so errors.Is tells
// a read that timed out (the connection stayed open) from one that failed.
func errTimeout(err error) error {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return err
	}
	return errors.New("not a timeout")
}

// TestProxyIPv4: with ipv4 on, a pledge that only has IPv4 (RFC 8995
// Appendix A) reaches the registrar through the proxy's IPv4 address too.
func TestProxyIPv4(t *testing.T) {
	l := newLab(t)
	l.router.sh(t, "ip", "-4", "addr", "add", "192.168.77.1/24", "dev", "lan0")
	l.pledge.sh(t, "ip", "-4", "addr", "add", "192.168.77.2/24", "dev", "pl0")
	p := l.startProxy(t, Config{Port: 8443, IPv4: true, MaxConnections: 8, MaxPerSource: 4, IdleTimeout: time.Minute})
	if diff := cmp.Diff([]string{"192.168.77.1:8443", "[fe80::1%lan0]:8443"}, p.Status().Listeners); diff != "" {
		t.Errorf("listeners (-want +got):\n%s", diff)
	}
	resp, err := l.pledgeClient("192.168.77.1:8443").Post("https://registrar.test/.well-known/brski/requestvoucher", "application/voucher-cms+json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("voucher request over IPv4: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("voucher request over IPv4: %s", resp.Status)
	}
	if st := p.Status(); len(st.Pledges) != 1 || !strings.HasPrefix(st.Pledges[0].Source, "192.168.77.2:") {
		t.Errorf("pledges in flight: %+v", st.Pledges)
	}
}
