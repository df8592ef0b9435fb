package brski

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// TestGateRemembers: the hook's answer about a pledge address is kept for
// gateAllowFor or gateRefuseFor, then asked again; with gateMax addresses
// awaiting an answer, a new one is turned away rather than remembered.
func TestGateRemembers(t *testing.T) {
	now := time.Unix(1e9, 0)
	var mu sync.Mutex
	asked := map[netip.Addr]int{}
	hang := make(chan struct{})
	defer close(hang)
	g := &gate{
		now:     func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		pledges: map[gateKey]*gateEntry{},
		relay:   func(context.Context, int, netip.AddrPort, []byte) {},
		refused: func(netip.AddrPort, string, error) {},
		admit: func(_ context.Context, p netip.AddrPort, _ string) error {
			mu.Lock()
			asked[p.Addr()]++
			mu.Unlock()
			switch p.Addr().As16()[15] {
			case 1:
				return nil
			case 2:
				return errors.New("refused")
			}
			<-hang // the rest never get an answer in this test
			return nil
		},
	}
	ctx := context.Background()
	from := func(i int) netip.AddrPort {
		return netip.MustParseAddrPort(fmt.Sprintf("[fe80::%x:%x]:5684", i>>8, i&0xff))
	}
	settle := func(p netip.AddrPort, want gateVerdict) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for g.check(ctx, 1, "lan0", p, []byte("x")) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: never %d", p, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	allowed, refused := from(1), from(2)
	if v := g.check(ctx, 1, "lan0", allowed, []byte("x")); v != gateHeld {
		t.Fatalf("first datagram: %d, want held", v)
	}
	settle(allowed, gatePass)
	settle(refused, gateRefused)
	advance(gateRefuseFor + time.Second)
	// The refusal is over: asked again (and refused again); the consent
	// still holds.
	settle(refused, gateRefused)
	if v := g.check(ctx, 1, "lan0", allowed, []byte("x")); v != gatePass {
		t.Errorf("allowed pledge after %v: %d, want pass", gateRefuseFor, v)
	}
	advance(gateAllowFor)
	if v := g.check(ctx, 1, "lan0", allowed, []byte("x")); v != gateHeld {
		t.Errorf("allowed pledge after %v: %d, want held (asked again)", gateAllowFor, v)
	}
	settle(allowed, gatePass)
	mu.Lock()
	if asked[allowed.Addr()] != 2 || asked[refused.Addr()] != 2 {
		t.Errorf("asked %v, want twice each", asked)
	}
	mu.Unlock()
	settle(refused, gateRefused) // its refusal had run out: a fresh one
	// Fill the table with pledges whose answer never comes.
	for i := 3; len(g.pledges) < gateMax; i++ {
		if v := g.check(ctx, 1, "lan0", from(i), []byte("x")); v != gateHeld {
			t.Fatalf("pledge %d: %d, want held", i, v)
		}
	}
	if v := g.check(ctx, 1, "lan0", from(0xfff0), []byte("x")); v != gateFull {
		t.Errorf("pledge past %d: %d, want turned away", gateMax, v)
	}
	// The same address on another interface is another pledge.
	if _, ok := g.pledges[gateKey{2, allowed.Addr()}]; ok {
		t.Errorf("an answer for interface 1 was kept for interface 2")
	}
}
