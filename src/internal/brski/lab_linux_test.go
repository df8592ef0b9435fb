package brski

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lab is three namespaces joined by veth pairs, with link-local addresses
// only: pledge (pl0: fe80::2, fe80::3) — router (lan0: fe80::1 | wan0:
// fe80::11) — registrar (rg0: fe80::12). The router does not forward, so
// the pledge reaches the registrar only through the proxy.
type lab struct {
	pledge, router, registrar netns
	reg                       *testRegistrar
	pledgeCert                tls.Certificate
	roots                     *x509.CertPool
	decoyHits                 atomic.Int64
}

const (
	registrarPort = 8443
	decoyPort     = 9000
	pledgeCN      = "pledge-0123456789"
)

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{pledge: newNetns(t, "pl"), router: newNetns(t, "rt"), registrar: newNetns(t, "rg")}
	veth(t, l.pledge, "pl0", []string{"fe80::2", "fe80::3"}, l.router, "lan0", []string{"fe80::1"})
	veth(t, l.router, "wan0", []string{"fe80::11"}, l.registrar, "rg0", []string{"fe80::12"})

	ca, caKey := newCert(t, "trustjoin test CA", nil, nil, func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid = true, true
		c.KeyUsage = x509.KeyUsageCertSign
	})
	l.roots = x509.NewCertPool()
	l.roots.AddCert(ca.Leaf)
	regCert, _ := newCert(t, "registrar.test", ca.Leaf, caKey, func(c *x509.Certificate) {
		c.DNSNames = []string{"registrar.test"}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	l.pledgeCert, _ = newCert(t, pledgeCN, ca.Leaf, caKey, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
	l.reg = startRegistrar(t, l.registrar, fmt.Sprintf("[fe80::12%%rg0]:%d", registrarPort), regCert, l.roots)

	// A decoy beside the registrar: nothing may ever reach it.
	ln, err := nsNetwork{l.registrar}.Listen(context.Background(), "tcp6", fmt.Sprintf("[fe80::12%%rg0]:%d", decoyPort))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.decoyHits.Add(1)
			c.Write([]byte("decoy\n"))
			c.Close()
		}
	}()
	return l
}

func newCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, edit func(*x509.Certificate)) (tls.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	edit(tmpl)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, key
}

// testRegistrar is a registrar reduced to what the proxy must carry: TLS
// 1.3 requiring a pledge certificate, and the voucher-request endpoint.
type testRegistrar struct {
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	ClientCN string
	TLS      uint16
	Remote   string
	Body     string
}

func startRegistrar(t *testing.T, ns netns, addr string, cert tls.Certificate, clients *x509.CertPool) *testRegistrar {
	t.Helper()
	r := &testRegistrar{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /.well-known/brski/requestvoucher", func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		cn := req.TLS.PeerCertificates[0].Subject.CommonName
		r.mu.Lock()
		r.seen = append(r.seen, seenRequest{ClientCN: cn, TLS: req.TLS.Version, Remote: req.RemoteAddr, Body: string(body)})
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/voucher-cms+json")
		fmt.Fprintf(w, "voucher for %s: %s", cn, body)
	})
	srv := &http.Server{
		Handler: mux,
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    clients,
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	ln, err := nsNetwork{ns}.Listen(context.Background(), "tcp6", addr)
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *testRegistrar) requests() []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seenRequest(nil), r.seen...)
}

// startProxy runs a circuit proxy in the router namespace on lan0.
func (l *lab) startProxy(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	if cfg.Interfaces == nil {
		cfg.Interfaces = []string{"lan0"}
	}
	if cfg.RegistrarHost == "" {
		cfg.RegistrarHost, cfg.RegistrarPort = "fe80::12%wan0", registrarPort
	}
	p := NewProxy(slogFor(t), cfg)
	p.net = nsNetwork{l.router}
	runProxy(t, p)
	return p
}

func slogFor(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runProxy runs p until the test ends, once it listens everywhere.
func runProxy(t *testing.T, p *Proxy) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-p.Ready():
	case err := <-done:
		t.Fatalf("proxy stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatalf("proxy not listening: %v", p.Status().Problems)
	}
}

// dialFrom connects from the pledge's address local (fe80::2 or fe80::3)
// to the router's fe80::1 port.
func (l *lab) dialFrom(local string, port int) (net.Conn, error) {
	var c net.Conn
	err := l.pledge.do(func() error {
		ifi, err := net.InterfaceByName("pl0")
		if err != nil {
			return err
		}
		zone := strconv.Itoa(ifi.Index) // see byIndex
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local), Zone: zone}}
		c, err = d.Dial("tcp6", fmt.Sprintf("[fe80::1%%%s]:%d", zone, port))
		return err
	})
	return c, err
}

// pledgeClient is a pledge's HTTPS client reaching addr (the proxy, as
// found by discovery) from the pledge namespace.
func (l *lab) pledgeClient(addr string) *http.Client {
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return nsNetwork{l.pledge}.Dial(ctx, "tcp", addr)
			},
			TLSClientConfig: &tls.Config{
				MinVersion:   tls.VersionTLS13,
				Certificates: []tls.Certificate{l.pledgeCert},
				RootCAs:      l.roots,
				ServerName:   "registrar.test",
			},
		},
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s", b)
	return len(b), nil
}
