package firewall

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/trustjoin/trustjoin/src/internal/mud"
)

func fakeMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x10, 0, byte(i >> 16), byte(i >> 8), byte(i)}
}

// fakeDevices are n devices with the corpus policies in turn.
func fakeDevices(pols []*mud.Policy, n int) []Device {
	var out []Device
	for i := range n {
		out = append(out, fakeDevice(pols, i))
	}
	return out
}

// fakeDevice is the i-th of fakeDevices.
func fakeDevice(pols []*mud.Policy, i int) Device {
	p := pols[i%len(pols)]
	host := strings.TrimPrefix(p.URL, "https://")
	host, _, _ = strings.Cut(host, "/")
	return Device{ID: fmt.Sprintf("fake%d", i), MACs: []net.HardwareAddr{fakeMAC(i)},
		Segment: "home", Policy: p, Manufacturer: host}
}

// benchPolicy lets the measured device send UDP to the sink.
var benchPolicy = &mud.Policy{URL: "https://bench.example/d1", FromDevice: []mud.Rule{{
	Family: 4, Protocol: unix.IPPROTO_UDP, DstNet: netip.MustParsePrefix("10.77.9.2/32"),
	DstPorts: &mud.Ports{Lo: 9000, Hi: 9000}, Accept: true,
}}}

// linear installs the osMUD-style baseline: one rule per ACE per device
// in a forward chain, the measured device's rule last.
func linear(t testing.TB, fd int, name string, devs []Device) {
	c, err := nftables.New(connOptions(fd)...)
	if err != nil {
		t.Fatal(err)
	}
	tb := c.AddTable(&nftables.Table{Name: name, Family: nftables.TableFamilyINet})
	prio := nftables.ChainPriority(-110)
	ch := c.AddChain(&nftables.Chain{Name: "forward", Table: tb, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: &prio})
	n := 0
	for _, d := range devs {
		for _, r := range append(slices.Clone(d.Policy.FromDevice), d.Policy.ToDevice...) {
			m := []expr.Any{payload(expr.PayloadBaseLLHeader, 6, 6), cmpEq(d.MACs[0])}
			if r.Protocol >= 0 {
				m = append(m, mkRule(verdict{}, l4proto(r.Protocol)).exprs(famINet)...)
			}
			if r.DstNet.IsValid() {
				m = append(m, maskedPrefix(r.DstNet)...)
			} else if r.DstDNS != "" || r.SrcDNS != "" {
				m = append(m, maskedPrefix(netip.MustParsePrefix("10.77.200.1/32"))...) // osMUD resolves names to addresses
			}
			if r.DstPorts != nil {
				m = append(m, mkRule(verdict{}, port(r.DstPorts.Lo, r.DstPorts.Hi, r.DstPorts.Neq, false)).exprs(famINet)...)
			}
			c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: append(m, accept.expr())})
			n++
			if n%50 == 0 { // keep batches small: v0.3.0 does not grow socket buffers
				if err := c.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: mkRule(drop).exprs(famINet)})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

// maskedPrefix matches the destination address against p with a mask,
// whatever its length, as the baseline always has.
func maskedPrefix(p netip.Prefix) []expr.Any {
	t := addrIn(p, false)[0]
	if t.pfx.Bits() < t.pfx.Addr().BitLen() {
		return addrExprs(t)
	}
	n := len(t.pfx.Addr().AsSlice())
	mask := make([]byte, n)
	for i := range mask {
		mask[i] = 0xff
	}
	return []expr.Any{addrLoad(t.v, false),
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(n), Mask: mask, Xor: make([]byte, n)},
		cmpEq(t.pfx.Addr().AsSlice())}
}

// pps floods UDP from d1 through the router to a sink for d and returns
// the packets per second the sink received. With answered, the sink
// answers the first packet, so conntrack sees the flow established, as
// it does almost all of a router's traffic; without, every packet is of a
// new (unanswered) flow and is judged by the rules all the way.
func pps(t testing.TB, d time.Duration, answered bool) float64 {
	var got atomic.Int64
	var pc net.PacketConn
	if err := inNS(nsInet, func() (err error) {
		pc, err = net.ListenPacket("udp4", "10.77.9.2:9000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		b := make([]byte, 128)
		for {
			_, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			if got.Add(1) == 1 && answered {
				_, _ = pc.WriteTo(b[:1], from)
			}
		}
	}()
	var c net.Conn
	if err := inNS(nsD1, func() (err error) {
		c, err = net.Dial("udp4", "10.77.9.2:9000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 64)
	_ = c.SetWriteDeadline(time.Now().Add(d))
	time.Sleep(50 * time.Millisecond)
	start, before := time.Now(), got.Load()
	for {
		if _, err := c.Write(msg); err != nil {
			if strings.Contains(err.Error(), "timeout") {
				break
			}
		}
	}
	time.Sleep(50 * time.Millisecond)
	return float64(got.Load()-before) / time.Since(start).Seconds()
}

// TestThroughput is the firewall benchmark of `make bench`
// (scripts/bench/firewall.sh): figures, never a failure. Every
// configuration is installed at once, in tables of its own; all but the
// one measured are dormant (their hooks unregistered), and the
// configurations take turns in short slices, round after round, so the
// load of a shared machine falls on all of them alike.
func TestThroughput(t *testing.T) {
	if os.Getenv("TJ_BENCH_FIREWALL") == "" {
		t.Skip("benchmark: set TJ_BENCH_FIREWALL=1 (scripts/bench/firewall.sh)")
	}
	fd := topology(t)
	resolver := dnsServer(t, map[string]string{})
	pols := corpusPolicies(t)
	d1 := Device{ID: "d1", MACs: macsOf(nsD1), Segment: "home", Policy: benchPolicy}
	ctx := context.Background()
	t.Cleanup(func() { _ = exec0("ip", "netns", "exec", nsRouter, "nft", "flush", "ruleset") })

	// fw4 always runs conntrack on a router: it stays active throughout.
	c, err := nftables.New(connOptions(fd)...)
	if err != nil {
		t.Fatal(err)
	}
	tb := c.AddTable(&nftables.Table{Name: "fw4", Family: nftables.TableFamilyINet})
	prio := nftables.ChainPriority(0)
	ch := c.AddChain(&nftables.Chain{Name: "forward", Table: tb, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: &prio})
	c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: mkRule(accept, ctState(ctEstablished|ctRelated)).exprs(famINet)})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}

	type config struct {
		name     string
		tables   []*nftables.Table
		pps, new []float64
	}
	configs := []*config{{name: "no rules (fw4 stand-in only)"}}
	enforcers := map[int]*Enforcer{}
	for _, n := range []int{0, 100, 1000} {
		name := fmt.Sprintf("tj%d", n)
		e := New(testLogger(t), Options{Table: name, NetNS: fd, Resolver: resolver})
		if err := e.SetSegments(ctx, openSegs); err != nil {
			t.Fatal(err)
		}
		for _, d := range fakeDevices(pols, n) {
			if err := e.Apply(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Apply(ctx, d1); err != nil {
			t.Fatal(err)
		}
		learnFakes(t, fd, e, n)
		enforcers[n] = e
		configs = append(configs, &config{name: fmt.Sprintf("trustjoin, %d devices", n),
			tables: []*nftables.Table{e.table(famINet), e.table(famBridge)}})
	}
	// The floor for any table of one's own: a forward base chain before
	// fw4's that accepts established flows and does nothing else.
	{
		c, err := nftables.New(connOptions(fd)...)
		if err != nil {
			t.Fatal(err)
		}
		tb := c.AddTable(&nftables.Table{Name: "floor", Family: nftables.TableFamilyINet})
		prio := nftables.ChainPriority(-110)
		ch := c.AddChain(&nftables.Chain{Name: "forward", Table: tb, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: &prio})
		c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: mkRule(accept, ctState(ctEstablished|ctRelated)).exprs(famINet)})
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		configs = append(configs, &config{name: "one base chain, one rule", tables: []*nftables.Table{tb}})
	}
	for _, n := range []int{100, 1000} {
		name := fmt.Sprintf("lin%d", n)
		linear(t, fd, name, append(fakeDevices(pols, n), d1))
		configs = append(configs, &config{name: fmt.Sprintf("linear baseline, %d devices", n),
			tables: []*nftables.Table{{Name: name, Family: nftables.TableFamilyINet}}})
	}
	// Only the measured configuration's tables are awake.
	activate := func(on *config) {
		for _, cfg := range configs {
			for _, tb := range cfg.tables {
				if cfg == on {
					c, err := nftables.New(connOptions(fd)...)
					if err != nil {
						t.Fatal(err)
					}
					c.AddTable(tb) // flags 0: awake
					if err := c.Flush(); err != nil {
						t.Fatal(err)
					}
				} else {
					fam := "inet"
					if tb.Family == nftables.TableFamilyBridge {
						fam = "bridge"
					}
					nsRun(t, nsRouter, "nft", "add", "table", fam, tb.Name, "{ flags dormant; }")
				}
			}
		}
	}
	// Slices of a second, after a pause: the packets just after a table
	// wakes up (and a new socket in a namespace) come at half the steady
	// rate, and in short slices that start-up, not the rules, made the
	// figures.
	const rounds, slice, settle = 7, time.Second, 300 * time.Millisecond
	for r := range rounds {
		// Each round starts elsewhere, so no configuration always follows
		// the same one.
		for i := range configs {
			cfg := configs[(i+r)%len(configs)]
			activate(cfg)
			time.Sleep(settle)
			cfg.pps = append(cfg.pps, pps(t, slice, true))
			cfg.new = append(cfg.new, pps(t, slice, false))
		}
	}
	median := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
	// Ratios are taken round by round (each configuration against the
	// baseline measured in the same round, moments apart) and their
	// median reported: the machine's load drifts between rounds, and a
	// ratio of two medians would carry that drift into the figure.
	ratio := func(v, base []float64) float64 {
		r := make([]float64, len(v))
		for i := range v {
			r[i] = v[i] / base[i]
		}
		return median(r)
	}
	base := configs[0]
	fmt.Printf("%-32s %12s %8s %12s %8s   (medians of %d interleaved %v slices; ratios per round)\n", "firewall (UDP 64 B, d1 -> internet)", "pps", "ratio", "new pps", "ratio", rounds, slice)
	for _, cfg := range configs {
		fmt.Printf("%-32s %12.0f %8.3f %12.0f %8.3f\n", cfg.name, median(cfg.pps), ratio(cfg.pps, base.pps), median(cfg.new), ratio(cfg.new, base.new))
	}
	fmt.Println("pps: a flow conntrack has seen answered (established); new pps: an unanswered flow, every packet judged")
	fmt.Println("goal: trustjoin with 1000 devices at least 0.95 of no rules")
	activate(configs[0])
	for _, n := range []int{100, 1000} {
		applyTimes(t, enforcers[n], pols, n)
	}
}

// learnFakes has the router learn an address for each of the n fake
// devices, as if each had sent a packet, so traffic to them finds their
// chains, as on a real router: the kernel then checks those chains too
// whenever a jump is added.
func learnFakes(t testing.TB, fd int, e *Enforcer, n int) {
	c, err := nftables.New(connOptions(fd)...)
	if err != nil {
		t.Fatal(err)
	}
	set := nfSet(e.table(famINet), learnedMap(4, 0))
	var el []nftables.SetElement
	for i := range n {
		el = append(el, nftables.SetElement{Key: []byte{10, 200, byte(i >> 8), byte(i)}, Val: fakeMAC(i)})
	}
	if len(el) > 0 {
		if err := c.SetAddElements(set, el); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	e.mu.Lock()
	e.syncLocked()
	pushed := len(e.st.pushed)
	e.mu.Unlock()
	if pushed < n {
		t.Fatalf("%d of %d fake devices' addresses pushed", pushed, n)
	}
}

// applyTimes prints how long Apply takes with n devices present: a new
// device with a corpus policy, a change (quarantine on or off), a new
// device without a policy.
func applyTimes(t *testing.T, e *Enforcer, pols []*mud.Policy, n int) {
	ctx := context.Background()
	median := func(name string, mk func(i int) Device) {
		var times []time.Duration
		for i := range 21 {
			d := mk(i)
			runtime.GC() // not in the figures
			start := time.Now()
			if err := e.Apply(ctx, d); err != nil {
				t.Fatal(err)
			}
			times = append(times, time.Since(start))
		}
		slices.Sort(times)
		fmt.Printf("Apply %s with %d present: median %v, max %v (goal < 10ms)\n", name, n, times[len(times)/2].Round(10*time.Microsecond), times[len(times)-1].Round(10*time.Microsecond))
	}
	extra := func(i int) Device {
		d := fakeDevice(pols, 100000+i)
		d.ID = fmt.Sprintf("extra%d", i)
		return d
	}
	median("one new device (corpus policy)", extra)
	median("a new policy for one device", func(i int) Device { d := extra(i); d.Policy = pols[(i+7)%len(pols)]; return d })
	median("quarantine for one device (waits for conntrack)", func(i int) Device { d := extra(i); d.Quarantined = true; return d })
	median("one new device without policy", func(i int) Device {
		return Device{ID: fmt.Sprintf("bare%d", i), MACs: []net.HardwareAddr{fakeMAC(200000 + i)}}
	})
	for i := range 21 {
		_ = e.Remove(ctx, fmt.Sprintf("extra%d", i))
		_ = e.Remove(ctx, fmt.Sprintf("bare%d", i))
	}
}
