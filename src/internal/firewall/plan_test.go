package firewall

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// The planner's tests: what each change sends the kernel, as nft
// commands (batch.script), from a state built by the steps before it.
// No kernel and no root: the netns tests check what the rules do to
// packets, TestRenderMatchesKernel that nft reads these rules as the
// applier installs them.

var (
	mac1 = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	mac2 = net.HardwareAddr{2, 0, 0, 0, 0, 2}

	webPolicy = &mud.Policy{URL: "https://maker.example/web", FromDevice: []mud.Rule{{Family: 4, Protocol: protoTCP,
		DstNet: netip.MustParsePrefix("10.77.9.2/32"), DstPorts: &mud.Ports{Lo: 80, Hi: 80}, Accept: true}}}
	tlsPolicy = &mud.Policy{URL: "https://maker.example/tls", FromDevice: []mud.Rule{{Family: 4, Protocol: protoTCP,
		DstNet: netip.MustParsePrefix("10.77.9.0/24"), DstPorts: &mud.Ports{Lo: 443, Hi: 443}, Accept: true}}}

	planSegs = []Segment{{Name: "home", Ifaces: []string{"br0"}, Internet: true}, {Name: "jail", Ifaces: []string{"br9"}, Quarantine: true}}
)

func cam(p *mud.Policy, macs ...net.HardwareAddr) Device {
	if len(macs) == 0 {
		macs = []net.HardwareAddr{mac1}
	}
	return Device{ID: "cam", MACs: macs, Segment: "home", Policy: p, Manufacturer: "maker.example"}
}

// A step changes the state as the Enforcer would once the kernel took
// the batch, and returns the batch.
type step func(t *testing.T, s *state) *batch

func apply(d Device) step {
	return func(t *testing.T, s *state) *batch {
		t.Helper()
		b, commit, err := s.planApply(d, nil, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		commit()
		return b
	}
}

func remove(id string) step {
	return func(t *testing.T, s *state) *batch {
		b, commit, ok := s.planRemove(id)
		if !ok {
			t.Fatalf("no device %s", id)
		}
		commit()
		return b
	}
}

func clean(t *testing.T, s *state) *batch {
	b := s.planClean(s.garbage)
	s.freeSlots(s.garbage)
	s.garbage = nil
	return b
}

func setSegments(segs []Segment) step {
	return func(t *testing.T, s *state) *batch {
		b, commit := s.planSegments(segs)
		commit()
		return b
	}
}

func setJoin(j Join) step {
	return func(t *testing.T, s *state) *batch {
		b := s.planJoinChange(j, nil)
		s.join = j
		return b
	}
}

func learned(cur map[netip.Addr]string) step {
	return func(t *testing.T, s *state) *batch {
		b, commit := s.planSync(cur)
		commit()
		return b
	}
}

func TestPlan(t *testing.T) {
	web := groupSet(mud.PeerModel, webPolicy.URL)
	tls := groupSet(mud.PeerModel, tlsPolicy.URL)
	a := netip.MustParseAddr("10.77.1.11")
	tests := []struct {
		name  string
		steps []step // the last one's batch is checked
		want  []string
		not   []string // prefixes no line may have
		check func(t *testing.T, s *state)
	}{
		{
			name:  "a first device: a chunk of slots, its chains and counters, its MACs in the maps",
			steps: []step{apply(cam(webPolicy))},
			want: []string{
				"add chain inet tj d0o", "add chain inet tj d31l", "add chain bridge tj d31i",
				"add counter inet tj c1t", "add counter bridge tj c1x",
				"add rule inet tj d0o meta nfproto ipv4 meta l4proto tcp ip daddr 10.77.9.2 th dport 80 return",
				"add rule inet tj d0l meta l4proto udp th dport 123 return",
				`add rule inet tj d0o counter name "c1x" drop`,
				"add chain inet tj e1o", "add rule inet tj e1o goto d0o",
				"add element inet tj dev_out { 02:00:00:00:00:01 : jump e1o }",
				"add element inet tj dev_local { 02:00:00:00:00:01 : jump e1l }",
				"add element bridge tj dev_in { 02:00:00:00:00:01 : jump e1i }",
				"add set inet tj " + web + "4 { type ipv4_addr; }",
				"add element bridge tj " + web + " { 02:00:00:00:00:01 }",
			},
			not: []string{"delete", "flush", "insert", "add element inet tj dev_in"},
			check: func(t *testing.T, s *state) {
				if s.nSlots != slotChunk || len(s.free) != slotChunk-1 || s.devs["cam"].slot != 0 {
					t.Errorf("%d slots, %d free, device in slot %d", s.nSlots, len(s.free), s.devs["cam"].slot)
				}
			},
		},
		{
			name:  "a new policy: a clean slot and one goto at the head of each entry chain, nothing deleted",
			steps: []step{apply(cam(webPolicy)), apply(cam(tlsPolicy))},
			want: []string{
				"add rule inet tj d1o meta nfproto ipv4 meta l4proto tcp ip daddr 10.77.9.0/24 th dport 443 return",
				"insert rule inet tj e1o goto d1o", "insert rule bridge tj e1i goto d1i",
				"add element inet tj " + tls + " { 02:00:00:00:00:01 }",
			},
			not: []string{"delete", "flush", "add chain", "add counter", "add element inet tj dev_out"},
			check: func(t *testing.T, s *state) {
				if len(s.garbage) != 1 || s.garbage[0].slot != 0 || len(s.garbage[0].leave) != 2 {
					t.Errorf("garbage %+v, want slot 0 and the old model group in both tables", s.garbage)
				}
			},
		},
		{
			name:  "quarantine: every chain drops, the MAC in the bridge's quarantine set",
			steps: []step{apply(cam(webPolicy)), apply(func() Device { d := cam(webPolicy); d.Quarantined = true; return d }())},
			want: []string{
				`add rule inet tj d1o counter name "c1x" drop`, `add rule inet tj d1l counter name "c1x" drop`,
				"add element bridge tj quar_mac { 02:00:00:00:00:01 }",
			},
			not: []string{"add rule inet tj d1o meta nfproto ipv4 meta l4proto tcp", "add rule inet tj d1l meta l4proto udp th dport 123"},
		},
		{
			name: "a quarantine segment confines like quarantine",
			steps: []step{func(t *testing.T, s *state) *batch {
				d := cam(nil)
				d.Segment = "jail"
				return apply(d)(t, s)
			}},
			want: []string{"add element bridge tj quar_mac { 02:00:00:00:00:01 }"},
		},
		{
			name:  "release: out of the quarantine set at once",
			steps: []step{apply(func() Device { d := cam(nil); d.Quarantined = true; return d }()), apply(cam(nil))},
			want:  []string{"delete element bridge tj quar_mac { 02:00:00:00:00:01 }", "add rule inet tj d1o return"},
		},
		{
			name:  "a MAC given up leaves the maps and groups at once",
			steps: []step{apply(cam(webPolicy, mac1, mac2)), apply(cam(webPolicy, mac1))},
			want: []string{
				"delete element inet tj dev_out { 02:00:00:00:00:02 }", "delete element bridge tj dev_in { 02:00:00:00:00:02 }",
				"delete element inet tj " + web + " { 02:00:00:00:00:02 }",
			},
			not: []string{"delete element inet tj dev_out { 02:00:00:00:00:01 }"},
		},
		{
			name:  "another device's MAC is refused",
			steps: []step{apply(cam(nil)), refused(Device{ID: "plug", MACs: []net.HardwareAddr{mac1}})},
			check: func(t *testing.T, s *state) {
				if len(s.devs) != 1 || s.nextN != 1 {
					t.Errorf("%d devices, next serial %d after a refused device", len(s.devs), s.nextN)
				}
			},
		},
		{
			name:  "nothing is recorded before the commit",
			steps: []step{apply(cam(webPolicy)), uncommitted(cam(tlsPolicy))},
			check: func(t *testing.T, s *state) {
				if st := s.devs["cam"]; st.dev.Policy != webPolicy || st.slot != 0 || len(s.free) != slotChunk-1 ||
					len(s.garbage) != 0 || s.groups[tls] || len(s.names) != 0 {
					t.Errorf("state changed by an uncommitted plan: %+v, %d free, %d garbage", st, len(s.free), len(s.garbage))
				}
			},
		},
		{
			name:  "remove: out of the maps and groups, its chains left for cleaning",
			steps: []step{apply(cam(webPolicy)), remove("cam")},
			want: []string{
				"delete element inet tj dev_out { 02:00:00:00:00:01 }", "delete element inet tj dev_local { 02:00:00:00:00:01 }",
				"delete element bridge tj dev_in { 02:00:00:00:00:01 }", "delete element bridge tj " + web + " { 02:00:00:00:00:01 }",
			},
			not: []string{"delete chain", "delete counter", "flush"},
		},
		{
			name:  "cleaning after a change: the old slot emptied, the old goto and group membership gone",
			steps: []step{apply(cam(webPolicy)), apply(cam(tlsPolicy)), clean},
			want: []string{
				"flush chain inet tj d0o", "flush chain bridge tj d0i",
				"# delete every rule of chain inet tj e1o but the first",
				"delete element inet tj " + web + " { 02:00:00:00:00:01 }", "delete element bridge tj " + web + " { 02:00:00:00:00:01 }",
			},
			not: []string{"delete chain", "delete counter", "delete element inet tj " + tls},
			check: func(t *testing.T, s *state) {
				if !slices.Contains(s.free, 0) {
					t.Errorf("slot 0 not free again: %v", s.free)
				}
			},
		},
		{
			name:  "cleaning after back and forth: the group it came back to stays",
			steps: []step{apply(cam(webPolicy)), apply(cam(tlsPolicy)), apply(cam(webPolicy)), apply(cam(tlsPolicy)), clean},
			want:  []string{"delete element inet tj " + web + " { 02:00:00:00:00:01 }"},
			not:   []string{"delete element inet tj " + tls},
		},
		{
			name:  "cleaning after a removal: the entry chains and counters go",
			steps: []step{apply(cam(webPolicy)), remove("cam"), clean},
			want:  []string{"delete chain inet tj e1o", "delete chain bridge tj e1i", "delete counter inet tj c1t", "delete counter bridge tj c1x", "flush chain inet tj d0l"},
			not:   []string{"#"},
		},
		{
			name:  "segments replaced: a new generation of chains; a device the change quarantines is rebuilt in place",
			steps: []step{apply(cam(webPolicy)), setSegments([]Segment{{Name: "home", Ifaces: []string{"br0"}, Quarantine: true}})},
			want: []string{
				"flush set inet tj seg_fwd", "flush chain inet tj s0_0", "delete chain inet tj s0_0", "delete set inet tj s0_0r",
				"delete chain inet tj s0_1",
				"add chain inet tj s1_0", "add element inet tj seg_fwd { \"br0\" : jump s1_0 }", "add element inet tj quar { \"br0\" }",
				"add rule inet tj s1_0 drop", "add rule bridge tj s1_0 drop",
				"flush chain inet tj d0o", `add rule inet tj d0o counter name "c1x" drop`,
				"add element bridge tj quar_mac { 02:00:00:00:00:01 }",
			},
			not: []string{"insert", "add chain inet tj e1o"},
		},
		{
			name:  "a learned address leads to its device's chain and groups",
			steps: []step{apply(cam(webPolicy)), learned(map[netip.Addr]string{a: string(mac1)})},
			want: []string{
				"add element inet tj ip4dev { 10.77.1.11 : jump e1i }",
				"add element inet tj " + web + "4 { 10.77.1.11 }",
			},
		},
		{
			name:  "an address of another MAC is not mirrored",
			steps: []step{apply(cam(webPolicy)), learned(map[netip.Addr]string{a: string(mac2)})},
			not:   []string{"add", "delete"},
		},
		{
			name: "an address whose device changed groups: leaves the old one after cleaning",
			steps: []step{apply(cam(webPolicy)), learned(map[netip.Addr]string{a: string(mac1)}),
				apply(cam(tlsPolicy)), clean},
			want: []string{"delete element inet tj " + web + "4 { 10.77.1.11 }"},
		},
		{
			name:  "the join confinement",
			steps: []step{setJoin(Join{Ifaces: []string{"join0"}, ProxyPort: 8443, CoAPPorts: []int{5683}})},
			want: []string{
				"add chain inet tj join_in { type filter hook input priority -110; policy accept; }",
				"add element inet tj join_if { \"join0\" }", "add element bridge tj join_br { \"join0\" }",
				"add rule inet tj join_in iifname @join_if jump join_local",
				"add rule inet tj join_fwd oifname @join_if counter drop",
				"add rule inet tj join_local meta nfproto ipv6 ip6 daddr fe80::/10 fib daddr . iif type local meta l4proto tcp th dport 8443 accept",
				"add rule inet tj join_local meta nfproto ipv6 ip6 daddr ff02::fd meta l4proto udp th dport 5683 accept",
				"add rule inet tj join_local counter drop",
			},
			not: []string{"add rule inet tj join_local meta nfproto ipv4"},
		},
		{
			name:  "the join confinement lifted",
			steps: []step{setJoin(Join{Ifaces: []string{"join0"}, ProxyPort: 8443}), setJoin(Join{})},
			want:  []string{"flush chain inet tj join_in", "delete chain inet tj join_local", "delete set inet tj join_if", "flush set bridge tj join_br"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testState(Options{Table: "tj"})
			s.segs = planSegs
			var b *batch
			for _, st := range tt.steps {
				b = st(t, s)
			}
			got := strings.Split(b.script(), "\n")
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %q", w)
				}
			}
			for _, n := range tt.not {
				for _, l := range got {
					if strings.HasPrefix(l, n) {
						t.Errorf("unwanted %q", l)
					}
				}
			}
			if t.Failed() {
				t.Logf("batch:\n%s", b.script())
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func refused(d Device) step {
	return func(t *testing.T, s *state) *batch {
		t.Helper()
		if _, _, err := s.planApply(d, nil, time.Unix(0, 0)); err == nil {
			t.Fatalf("device %s accepted", d.ID)
		}
		return newBatch(s.table)
	}
}

func uncommitted(d Device) step {
	return func(t *testing.T, s *state) *batch {
		t.Helper()
		b, _, err := s.planApply(d, nil, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// TestPlanTables: the tables as installed, in the two ways the bridge
// table finds a packet's segment.
func TestPlanTables(t *testing.T) {
	s := testState(Options{Table: "tj"})
	s.segs = planSegs
	got := s.planTables([]family{famBridge}, nil, time.Unix(0, 0)).script()
	for _, w := range []string{
		"delete table bridge tj",
		"add chain bridge tj forward { type filter hook forward priority -110; policy accept; }",
		"add rule bridge tj forward meta ibrname vmap @seg_br",
		`add element bridge tj seg_br { "br0" : jump s0_0 }`,
		"add rule inet tj forward ether saddr vmap @dev_out",
		"add rule inet tj input ct state new iifname @lan meta nfproto ipv4 update @ip4mac { ip saddr : ether saddr }",
		"add map inet tj ip4mac { type ipv4_addr : ether_addr; size 65535; flags dynamic,timeout; timeout 1h; }",
	} {
		if !strings.Contains(got, w+"\n") {
			t.Errorf("missing %q", w)
		}
	}
	if strings.Contains(got, "delete table inet") {
		t.Error("deletes the inet table, which is not there")
	}
	// A kernel without meta ibrname: by port.
	s.portMode = true
	s.ports = map[string][]string{"br0": {"eth1", "wlan0"}}
	got = s.planTables(nil, s.ports, time.Unix(0, 0)).script()
	for _, w := range []string{
		"add rule bridge tj forward iifname vmap @seg_br",
		`add element bridge tj seg_br { "eth1" : jump s0_0, "wlan0" : jump s0_0 }`,
	} {
		if !strings.Contains(got, w+"\n") {
			t.Errorf("port mode: missing %q", w)
		}
	}
}

// TestPlanOwners: a device's leased address and the IPv6 address formed
// from its MAC are bound to it over whoever sent from them first; others
// are not touched.
func TestPlanOwners(t *testing.T) {
	s := testState(Options{Table: "tj"})
	s.segs = planSegs
	apply(cam(nil))(t, s)
	leased := netip.MustParseAddr("10.77.1.11")
	eui := netip.MustParseAddr("fd77:1::ff:fe00:1")
	other := netip.MustParseAddr("10.77.1.12")
	cur := map[netip.Addr]string{leased: string(mac2), eui: string(mac2), other: string(mac2)}
	b, taken := s.planOwners(cur, map[netip.Addr]string{leased: string(mac1), other: "\x02\x00\x00\x00\x00\x09"})
	got := b.script()
	for _, w := range []string{
		"delete element inet tj ip4mac { 10.77.1.11 }",
		"add element inet tj ip4mac { 10.77.1.11 : 02:00:00:00:00:01 }",
		"add element inet tj ip6mac { fd77:1::ff:fe00:1 : 02:00:00:00:00:01 }",
	} {
		if !strings.Contains(got, w+"\n") {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	if strings.Contains(got, "10.77.1.12") || len(taken) != 2 {
		t.Errorf("took %v:\n%s", taken, got)
	}
	if b, _ := s.planOwners(map[netip.Addr]string{leased: string(mac1)}, map[netip.Addr]string{leased: string(mac1)}); b != nil {
		t.Errorf("rebinds an address its owner holds:\n%s", b.script())
	}
}

// TestPlanNames: a name's set is filled with its answer, elements living
// for the TTL and the time it takes to ask again; refilling swaps in one
// batch.
func TestPlanNames(t *testing.T) {
	s := testState(Options{Table: "tj"})
	s.segs = planSegs
	p := &mud.Policy{URL: "https://maker.example/cloud", FromDevice: []mud.Rule{{Family: 4, Protocol: protoTCP, DstDNS: "cloud.example", Accept: true}}}
	now := time.Unix(1000, 0)
	b, commit, err := s.planApply(cam(p), map[string]answer{"cloud.example": {addrs: []netip.Addr{netip.MustParseAddr("192.0.2.7")}, ttl: 300 * time.Second}}, now)
	if err != nil {
		t.Fatal(err)
	}
	commit()
	set := nameSet("cloud.example", 4).name
	got := b.script()
	for _, w := range []string{
		"add set inet tj " + set + " { type ipv4_addr; flags timeout; }",
		"add element inet tj " + set + " { 192.0.2.7 timeout 5m7s }", // 300 s + 4×0.5 s + 5 s
		"add rule inet tj d0o meta nfproto ipv4 meta l4proto tcp ip daddr @" + set + " return",
	} {
		if !strings.Contains(got, w+"\n") {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	if s.names["cloud.example"].refs != 1 {
		t.Errorf("refs %d", s.names["cloud.example"].refs)
	}
	b = newBatch(s.table)
	s.planNameSets(b, "cloud.example", s.names["cloud.example"], true, now.Add(time.Minute))
	want := "add set inet tj " + set + " { type ipv4_addr; flags timeout; }\nflush set inet tj " + set + "\nadd element inet tj " + set + " { 192.0.2.7 timeout 4m7s }\n"
	if got := b.script(); !strings.HasPrefix(got, want) {
		t.Errorf("refill:\n%s\nwant first\n%s", got, want)
	}
}

// TestRenderDevice: what `trustjoin mud show` prints of a device, its
// chains as in force (after a change, the new slot).
func TestRenderDevice(t *testing.T) {
	s := testState(Options{Table: "tj"})
	s.segs = planSegs
	apply(cam(webPolicy))(t, s)
	apply(cam(tlsPolicy))(t, s)
	got, err := s.renderDevice("cam", map[string][2]uint64{"inet c1t": {7, 700}, "bridge c1x": {2, 120}})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"table inet tj {\n\tcounter c1t {\n\t\tpackets 7 bytes 700\n\t}\n\n\tcounter c1x {\n\t\tpackets 0 bytes 0\n",
		"table bridge tj {\n\tcounter c1t {\n\t\tpackets 0 bytes 0\n\t}\n\n\tcounter c1x {\n\t\tpackets 2 bytes 120\n",
		"\tchain e1o {\n\t\tgoto d1o\n\t}\n",
		"\tchain d1o {\n\t\tcounter name \"c1t\"\n",
		"\t\tmeta nfproto ipv4 meta l4proto tcp ip daddr 10.77.9.0/24 th dport 443 return\n",
		"table bridge tj {",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	if strings.Contains(got, "th dport 80") || strings.Contains(got, "chain forward") {
		t.Errorf("shows more than the device's chains as in force:\n%s", got)
	}
	if _, err := s.renderDevice("plug", nil); err == nil {
		t.Error("renders a device that is not there")
	}
}

// BenchmarkPlanApply: planning one new device with 1, 100 and 1000
// present, each with an address learned, without a kernel (the part of
// Apply's latency that is trustjoin's own; `make bench` measures the
// whole, and prints 1000 against 1 as a ratio: planning should not grow
// with the devices present).
func BenchmarkPlanApply(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run("present="+strconv.Itoa(n), func(b *testing.B) {
			s := testState(Options{Table: "tj"})
			s.segs = planSegs
			cur := map[netip.Addr]string{}
			for i := range n {
				mac := net.HardwareAddr{2, 0x10, 0, 0, byte(i >> 8), byte(i)}
				d := Device{ID: "d" + strconv.Itoa(i), MACs: []net.HardwareAddr{mac}, Segment: "home", Policy: []*mud.Policy{webPolicy, tlsPolicy}[i%2], Manufacturer: "maker.example"}
				p, commit, err := s.planApply(d, nil, time.Unix(0, 0))
				if err != nil || p.empty() {
					b.Fatal(err)
				}
				commit()
				cur[netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)})] = string(mac)
			}
			_, commit := s.planSync(cur)
			commit()
			d := cam(tlsPolicy)
			d.MACs = []net.HardwareAddr{{2, 0x20, 0, 0, 0, 1}}
			b.ResetTimer()
			for range b.N {
				if _, _, err := s.planApply(d, nil, time.Unix(0, 0)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
