package brski

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tests against peers that are not trustjoin's code: registrar
// announcements made with Debian's python3-cbor2 and python3-dnspython,
// and libcoap's CoAP client and DTLS server (libcoap3-bin) as pledge and
// registrar of the constrained proxy. CI installs them
// (.ci/install-deps.sh); elsewhere a test without them skips.

// peerTool returns the path of a peer program, skipping the test when it
// is missing (and failing it on CI, which installs them all).
func peerTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing: .ci/install-deps.sh installs %s", name, pkg)
		}
		t.Skipf("needs %s (%s)", name, pkg)
	}
	return path
}

// python returns Debian's python3 with the given modules, which a
// python3 first in PATH (pyenv, a venv) may lack.
func python(t *testing.T, modules ...string) string {
	t.Helper()
	py := peerTool(t, "/usr/bin/python3", "python3")
	for _, m := range modules {
		if err := exec.Command(py, "-c", "import "+m).Run(); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("python module %s missing: .ci/install-deps.sh installs it", m)
			}
			t.Skipf("needs the python module %s (Debian python3-%s)", m, strings.ReplaceAll(m, "dns", "dnspython"))
		}
	}
	return py
}

// peer is a program running in a namespace until the test ends; its
// output lines are kept so the test can wait for them.
type peer struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	cond  *sync.Cond
	lines []string
	done  bool
}

func startPeer(t *testing.T, ns netns, args ...string) *peer {
	t.Helper()
	p := &peer{cmd: exec.Command("ip", append([]string{"netns", "exec", string(ns)}, args...)...)}
	p.cond = sync.NewCond(&p.mu)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.done = true
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("%s said:\n%s", args[0], p.output())
		}
	})
	return p
}

// waitLine waits for a line containing s; it fails the test if the peer
// ends or 20 s pass first.
func (p *peer) waitLine(t *testing.T, s string) {
	t.Helper()
	timer := time.AfterFunc(20*time.Second, func() {
		p.mu.Lock()
		p.done = true
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for _, l := range p.lines {
			if strings.Contains(l, s) {
				return
			}
		}
		if p.done {
			t.Fatalf("%s never said %q:\n%s", p.cmd.Args[3], s, strings.Join(p.lines, "\n"))
		}
		p.cond.Wait()
	}
}

func (p *peer) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// TestProxyHearsIndependentFlood: with no registrar_host, the proxy takes
// the registrar from an AN_join_registrar M_FLOOD (RFC 8995 §4.3) that
// Python's cbor2 encoded, and relays a pledge there.
func TestProxyHearsIndependentFlood(t *testing.T) {
	py := python(t, "cbor2")
	l := newLab(t)
	p := NewProxy(slogFor(t), Config{Interfaces: []string{"lan0"}, Port: 8491, MaxConnections: 8, MaxPerSource: 4, IdleTimeout: time.Minute})
	p.net = nsNetwork{l.router}
	runProxy(t, p)

	flood := startPeer(t, l.registrar, py, "testdata/grasp_registrar.py", "rg0", "fe80::12", "fe80::12", strconv.Itoa(registrarPort))
	flood.waitLine(t, "ready")
	waitFor(t, "the flood to be heard", func() bool { return p.Status().Registrar.Source == "grasp" })

	resp, err := l.pledgeClient("[fe80::1%pl0]:8491").Post("https://registrar.test/.well-known/brski/requestvoucher", "application/voucher-cms+json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("voucher request: %v (registrar %+v)", err, p.Status().Registrar)
	}
	resp.Body.Close()
	reg := p.Status().Registrar
	if resp.StatusCode != http.StatusOK || reg.Source != "grasp" || reg.Address != "[fe80::12%wan0]:8443" {
		t.Errorf("%s; registrar %+v", resp.Status, reg)
	}
	if n := p.Status().Counters.GRASPIgnored; n != 0 {
		t.Errorf("%d GRASP messages ignored, want the Python flood used", n)
	}
}

// TestProxyFindsIndependentMDNS: with no registrar_host, the proxy finds
// the registrar from _brski-registrar._tcp answers that Python's
// dnspython built, and relays a pledge there.
func TestProxyFindsIndependentMDNS(t *testing.T) {
	py := python(t, "dns.message")
	l := newLab(t)
	responder := startPeer(t, l.registrar, py, "testdata/mdns_registrar.py", "rg0", "fe80::12", strconv.Itoa(registrarPort))
	responder.waitLine(t, "ready")

	p := NewProxy(slogFor(t), Config{Interfaces: []string{"lan0"}, Port: 8461, MaxConnections: 8, MaxPerSource: 4, IdleTimeout: time.Minute})
	p.net = nsNetwork{l.router}
	runProxy(t, p)

	resp, err := l.pledgeClient("[fe80::1%pl0]:8461").Post("https://registrar.test/.well-known/brski/requestvoucher", "application/voucher-cms+json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("voucher request: %v (registrar %+v)", err, p.Status().Registrar)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "voucher for "+pledgeCN+": {}" {
		t.Errorf("voucher request: %s %q", resp.Status, body)
	}
	if reg := p.Status().Registrar; reg.Source != "mdns" || reg.Address != "[fe80::12%wan0]:8443" || reg.Error != "" {
		t.Errorf("registrar %+v", reg)
	}
	responder.waitLine(t, "answered")
}

// jpyRegistrar is a test-only constrained registrar front: it keeps one
// UDP flow towards a real DTLS server per JPY header, as the draft asks
// of registrars (§4.4: packets with the same header belong to one
// pledge's UDP connection, with another header to another), and wraps
// what the server answers in JPY messages with that flow's header.
type jpyRegistrar struct {
	mu      sync.Mutex
	flows   map[string]*net.UDPConn
	longest int
}

// startJPYRegistrar listens for JPY messages on jpy in ns and relays each
// header's contents to the DTLS server at dtls.
func startJPYRegistrar(t *testing.T, ns netns, jpy, dtls string) *jpyRegistrar {
	t.Helper()
	r := &jpyRegistrar{flows: map[string]*net.UDPConn{}}
	front, err := nsNetwork{ns}.ListenPacket(context.Background(), "udp6", jpy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		front.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, c := range r.flows {
			c.Close()
		}
	})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, proxy, err := front.ReadFrom(buf)
			if err != nil {
				return
			}
			h, content, err := DecodeJPY(buf[:n])
			if err != nil {
				continue
			}
			r.mu.Lock()
			flow := r.flows[string(h)]
			if flow == nil {
				c, err := nsNetwork{ns}.Dial(context.Background(), "udp6", dtls)
				if err != nil {
					r.mu.Unlock()
					continue
				}
				flow = c.(*net.UDPConn)
				r.flows[string(h)] = flow
				r.longest = max(r.longest, len(h))
				go func(h []byte) { // the server's answers, back under h
					b := make([]byte, 4096)
					for {
						k, err := flow.Read(b)
						if err != nil {
							return
						}
						msg := MarshalJPY(h, b[:k])
						front.WriteTo(msg, proxy)
					}
				}(bytes.Clone(h))
			}
			r.mu.Unlock()
			flow.Write(content)
		}
	}()
	return r
}

func (r *jpyRegistrar) headers() (n, longest int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.flows), r.longest
}

// TestStatelessLibcoapDTLS: libcoap's client, a real cBRSKI-style pledge
// stack, completes a DTLS handshake and a CoAP exchange through the
// stateless proxy with libcoap's DTLS server behind a registrar that
// keeps one DTLS connection per JPY header. With a header that changed
// from datagram to datagram, the server saw every ClientHello as a new
// client and the handshake never completed.
func TestStatelessLibcoapDTLS(t *testing.T) {
	client := peerTool(t, "coap-client-openssl", "libcoap3-bin")
	server := peerTool(t, "coap-server-openssl", "libcoap3-bin")
	l := newLab(t)
	s := l.startStateless(t)
	// The DTLS server on the registrar's loopback: CoAP on 15683, CoAPS
	// (DTLS, PSK) on 15684.
	startPeer(t, l.registrar, server, "-A", "::1", "-p", "15683", "-k", "pledge-psk-secret")
	waitCoAP(t, l.registrar, "[::1]:15683")
	reg := startJPYRegistrar(t, l.registrar, fmt.Sprintf("[fe80::12%%rg0]:%d", jpyPort), "[::1]:15684")

	out, err := exec.Command("ip", "netns", "exec", string(l.pledge), client, "-m", "get", "-B", "20",
		"-u", "pledge", "-k", "pledge-psk-secret", "coaps://[fe80::1%pl0]:5684/").CombinedOutput()
	n, longest := reg.headers()
	if err != nil || !strings.Contains(string(out), "This is a test server made with libcoap") {
		t.Fatalf("coaps GET through the proxy: %v\n%s\n(%d headers seen, counters %+v)", err, out, n, s.Status().Counters)
	}
	if n != 1 {
		t.Errorf("the registrar saw %d headers for one pledge flow, want 1", n)
	}
	if longest > 32 {
		t.Errorf("header of %d bytes, the draft's MTU budget assumes at most 32", longest)
	}
}

// waitCoAP waits until a CoAP server answers at addr in ns: a CoAP ping
// (an Empty confirmable message) gets a Reset.
func waitCoAP(t *testing.T, ns netns, addr string) {
	t.Helper()
	c, err := nsNetwork{ns}.Dial(context.Background(), "udp6", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "the CoAP server at "+addr, func() bool {
		c.Write(coapMessage{typ: coapCON, id: 1}.marshal())
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		b := make([]byte, 64)
		n, err := c.Read(b)
		return err == nil && n >= 4 && (b[0]>>4)&3 == coapRST
	})
}

// TestStatelessDiscoveryLibcoap: libcoap's client asking the discovery
// port by unicast gets what RFC 7252 and RFC 6690 ask for: the join port
// when its filter matches, an acknowledged empty link-format document
// when it does not, 4.04 for another resource. Without an answer a
// confirmable request is retransmitted for some 45 s.
func TestStatelessDiscoveryLibcoap(t *testing.T) {
	client := peerTool(t, "coap-client-openssl", "libcoap3-bin")
	l := newLab(t)
	l.startStateless(t)
	tests := []struct {
		path, want, payload string
	}{
		{"/.well-known/core?brski-jp=*", "t:ACK c:2.05", "<>;brski-jp=5684"},
		{"/.well-known/core?rt=core.rd", "t:ACK c:2.05", ""},
		{"/.well-known/core?brski-jp=9999", "t:ACK c:2.05", ""},
		{"/b", "t:ACK c:4.04", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			// -v 7 prints each message received; -B bounds the wait.
			out, err := exec.Command("ip", "netns", "exec", string(l.pledge), client, "-v", "7", "-m", "get", "-B", "5",
				"coap://[fe80::1%pl0]"+tt.path).CombinedOutput()
			if err != nil || !strings.Contains(string(out), tt.want) {
				t.Fatalf("%v: no %q in\n%s", err, tt.want, out)
			}
			if tt.payload != "" && !strings.Contains(string(out), tt.payload) {
				t.Errorf("no %q in\n%s", tt.payload, out)
			}
		})
	}
}
