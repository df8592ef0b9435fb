package brski

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// sink is a registrar stand-in on loopback that reads and counts
// everything and answers each connection's end with one byte, so a writer
// knows all its bytes arrived.
type sink struct {
	ln       net.Listener
	accepted atomic.Int64
	received atomic.Int64 // bytes read, over all connections
}

func newSink(t testing.TB) *sink {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveSink(t, ln)
}

// serveSink runs a sink on ln until the test ends.
func serveSink(t testing.TB, ln net.Listener) *sink {
	s := &sink{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			go func() {
				defer c.Close()
				// 8 KiB, as io.Discard would take, counted as it comes.
				b := make([]byte, 8<<10)
				for {
					k, err := c.Read(b)
					s.received.Add(int64(k))
					if err != nil {
						break
					}
				}
				c.Write([]byte{1})
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

// loopbackProxy runs the proxy's accept loop and relay on a loopback
// listener towards the registrar stand-in listening on reg: the same code
// pledges go through, without namespaces, so it can be measured anywhere.
func loopbackProxy(t testing.TB, reg net.Listener, maxConns int, adjust ...func(*Config)) (*Proxy, string) {
	port := reg.Addr().(*net.TCPAddr).Port
	cfg := Config{
		Interfaces: []string{"lo"}, RegistrarHost: "127.0.0.1", RegistrarPort: port,
		MaxConnections: maxConns, MaxPerSource: maxConns, IdleTimeout: time.Hour,
	}
	for _, f := range adjust {
		f(&cfg)
	}
	p := NewProxy(slog.New(slog.NewTextHandler(io.Discard, nil)), cfg)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.accept(ctx, ln, "lo")
		p.relays.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return p, ln.Addr().String()
}

// BenchmarkThroughput sends b.N chunks of 64 KiB to the registrar stand-in
// directly and through the proxy; scripts/bench.sh prints relayed/direct.
func BenchmarkThroughput(b *testing.B) {
	s := newSink(b)
	_, proxied := loopbackProxy(b, s.ln, 16)
	for _, bm := range []struct{ name, addr string }{{"direct", s.ln.Addr().String()}, {"relayed", proxied}} {
		b.Run(bm.name, func(b *testing.B) {
			chunk := make([]byte, 64<<10)
			b.SetBytes(int64(len(chunk)))
			c, err := net.Dial("tcp4", bm.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			c.(*net.TCPConn).CloseWrite()
			if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
				b.Fatalf("end of the stream not acknowledged: %v", err)
			}
		})
	}
}

// idlePledges is how many idle pledge connections the memory test holds.
const idlePledges = 1000

// maxIdleBytes is the stated bound on what one idle pledge costs the
// proxy (both sockets, the relay's goroutines, its records). A relay that
// kept its 32 KiB buffers while idle would need over 64 KiB.
const maxIdleBytes = 16 << 10

// maxIdlePipes bounds the splice pipes open while the pledges idle: Go
// keeps a few in a pool (about one per splice that ran at once, so per
// CPU), a relay that kept its own would make idlePledges.
const maxIdlePipes = idlePledges / 10

// hello is what each pledge sends before it goes idle, so that every
// relay has taken a buffer or pipe once and must have given it back.
var hello = []byte(strings.Repeat("voucher request? ", 6))

// TestIdlePledgeMemory holds 1000 idle pledge connections through the
// proxy, each having sent a few bytes, and checks what they cost against
// the same 1000 made directly: memory, and splice pipes left open. Each
// is measured in a fresh process of its own, so memory one freed is not
// silently reused by the other.
func TestIdlePledgeMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 4000 sockets")
	}
	// Each idle pledge takes four descriptors here: the pledge's, the
	// proxy's two, the registrar stand-in's.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 4*idlePledges+200 {
		t.Skipf("needs %d open files, the limit is %d (raise it with ulimit -n)", 4*idlePledges+200, lim.Cur)
	}
	if mode := os.Getenv("TJBR_MEMORY"); mode != "" {
		mem, pipes := idleMemory(t, mode == "relayed")
		fmt.Printf("MEMORY %d PIPES %d\n", mem, pipes)
		return
	}
	run := func(mode string) (mem, pipes int64) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIdlePledgeMemory$", "-test.count=1")
		cmd.Env = append(os.Environ(), "TJBR_MEMORY="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s measurement: %v\n%s", mode, err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if _, err := fmt.Sscanf(l, "MEMORY %d PIPES %d", &mem, &pipes); err == nil {
				return mem, pipes
			}
		}
		t.Fatalf("%s measurement printed no figure:\n%s", mode, out)
		return 0, 0
	}
	relayed, pipes := run("relayed")
	direct, _ := run("direct")
	per := (relayed - direct) / idlePledges
	t.Logf("idle pledge through the proxy: %d bytes each (%d pledges: %d KiB relayed, %d KiB direct); bound %d; splice pipes open while idle: %d (bound %d)",
		per, idlePledges, relayed>>10, direct>>10, maxIdleBytes, pipes, maxIdlePipes)
	if per > maxIdleBytes {
		t.Errorf("an idle pledge costs the proxy %d bytes, more than the stated %d", per, maxIdleBytes)
	}
	if pipes > maxIdlePipes {
		t.Errorf("%d pipes open while %d pledges idle through the proxy, more than the stated %d", pipes, idlePledges, maxIdlePipes)
	}
}

// idleMemory opens idlePledges connections to the registrar stand-in,
// through the proxy or not, sends hello on each and leaves them idle once
// it all arrived. It returns the memory they take and the pipes opened
// meanwhile.
func idleMemory(t *testing.T, relayed bool) (mem, pipes int64) {
	s := newSink(t)
	addr, ready := s.ln.Addr().String(), func() bool { return s.received.Load() == idlePledges*int64(len(hello)) }
	if relayed {
		var p *Proxy
		p, addr = loopbackProxy(t, s.ln, idlePledges)
		ready = func() bool {
			return s.received.Load() == idlePledges*int64(len(hello)) && p.Status().Counters.Active == idlePledges
		}
	}
	before, pipesBefore := heapAndStacks(), openPipes(t)
	conns := make([]net.Conn, 0, idlePledges)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < idlePledges; i++ {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every connection's bytes to arrive", ready)
	return int64(heapAndStacks() - before), openPipes(t) - pipesBefore
}

// openPipes counts the process's pipes (a splice pipe has two ends); none
// where there is no /proc, as no splice either.
func openPipes(t *testing.T) int64 {
	fds, err := os.ReadDir("/proc/self/fd")
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatalf("counting pipes: %v", err)
	}
	var n int64
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(l, "pipe:") {
			n++
		}
	}
	return n / 2
}

// heapAndStacks is the memory live objects and goroutine stacks use.
func heapAndStacks() uint64 {
	// Let relays settle into their idle wait before measuring.
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}
