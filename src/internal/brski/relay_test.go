package brski

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"testing"
	"time"
)

// TestRelayExact sends more than one relay step (maxStep on Linux) to a
// registrar stand-in that answers the end of what it got with its
// SHA-256 and closes: the bytes arrive unchanged, each end is passed on
// as a half-close in turn, and the counters hold exactly what went each
// way.
func TestRelayExact(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				h := sha256.New()
				if _, err := io.Copy(h, c); err == nil {
					c.Write(h.Sum(nil))
				}
			}()
		}
	}()
	p, addr := loopbackProxy(t, ln, 4)

	msg := make([]byte, 3<<20+12345)
	rand.Read(msg)
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer up to the registrar's end: %v", err)
	}
	if want := sha256.Sum256(msg); !bytes.Equal(got, want[:]) {
		t.Errorf("registrar answered %x, want the SHA-256 of what was sent, %x", got, want)
	}
	waitFor(t, "the pledge to leave", func() bool { return p.Status().Counters.Active == 0 })
	k := p.Status().Counters
	if k.BytesToRegistrar != uint64(len(msg)) || k.BytesToPledge != sha256.Size {
		t.Errorf("counted %d bytes to the registrar, %d to the pledge; want %d and %d", k.BytesToRegistrar, k.BytesToPledge, len(msg), sha256.Size)
	}
}
