package brski

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestRelayAdmit: the authorisation hook (Config.Admit) is asked about
// each pledge connection before it is relayed, with the pledge's address
// and join interface; one it refuses is reset and never reaches the
// registrar, one it allows is relayed.
func TestRelayAdmit(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var reached atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	var mu sync.Mutex
	var asked []string
	allow := false
	p, addr := loopbackProxy(t, ln, 4, func(c *Config) {
		c.Admit = func(_ context.Context, pledge netip.AddrPort, ifname string) error {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, pledge.Addr().String()+"%"+ifname)
			if !allow {
				return errors.New("the authorisation hook refused this device a credential")
			}
			return nil
		}
	})
	// The reset may come before connect(2) has returned.
	c, err := net.Dial("tcp4", addr)
	if err == nil {
		defer c.Close()
		c.Write([]byte("hello"))
		err = readErr(c)
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("a refused pledge: %v, want a reset", err)
	}
	waitFor(t, "the refusal to be counted", func() bool { return p.Status().Counters.RefusedHook == 1 })
	if n := reached.Load(); n != 0 {
		t.Errorf("a refused pledge reached the registrar (%d connections)", n)
	}
	mu.Lock()
	allow = true
	mu.Unlock()
	c2, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c2.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(c2, got); err != nil || string(got) != "hello" {
		t.Fatalf("an allowed pledge: read %q, %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 2 || asked[0] != "127.0.0.1%lo" {
		t.Errorf("the hook was asked about %q", asked)
	}
}
