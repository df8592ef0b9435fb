package behaviour

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/dns/dnsmessage"
)

// ipv4 builds an IPv4 packet of protocol proto from src to dst with the
// given transport bytes.
func ipv4(src, dst string, proto uint8, l4 []byte) []byte {
	b := make([]byte, 20, 20+len(l4))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(l4)))
	b[8], b[9] = 64, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	return append(b, l4...)
}

func ipv6(src, dst string, next uint8, l4 []byte) []byte {
	b := make([]byte, 40, 40+len(l4))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(l4)))
	b[6], b[7] = next, 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, l4...)
}

func ports(src, dst uint16, rest ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, src)
	b = binary.BigEndian.AppendUint16(b, dst)
	return append(b, rest...)
}

func TestParseIP(t *testing.T) {
	t.Parallel()
	frag := ipv4("10.0.0.2", "10.0.0.1", 6, ports(1000, 23))
	binary.BigEndian.PutUint16(frag[6:], 100) // offset 800: not the first fragment
	// An IPv6 packet with a hop-by-hop header before its TCP header.
	hbh := append([]byte{6, 0, 1, 4, 0, 0, 0, 0}, ports(40000, 443)...)
	tests := []struct {
		name string
		b    []byte
		want header
		ok   bool
	}{
		{"tcp", ipv4("10.0.0.2", "93.184.216.34", 6, ports(40000, 443, 0, 0, 0, 0)), header{src: ip("10.0.0.2"), dst: ip("93.184.216.34"), proto: 6, port: 443, srcPort: 40000}, true},
		{"icmp echo", ipv4("10.0.0.2", "10.0.0.1", 1, []byte{8, 0, 0, 0}), header{src: ip("10.0.0.2"), dst: ip("10.0.0.1"), proto: 1, port: 8}, true},
		{"later fragment", frag, header{src: ip("10.0.0.2"), dst: ip("10.0.0.1"), proto: 6}, true},
		{"ipv6 with extension header", ipv6("fd00::2", "2001:db8::1", 0, hbh), header{src: ip("fd00::2"), dst: ip("2001:db8::1"), proto: 6, port: 443, srcPort: 40000}, true},
		{"icmpv6", ipv6("fd00::2", "fd00::1", 58, []byte{128, 0, 0, 0}), header{src: ip("fd00::2"), dst: ip("fd00::1"), proto: 58, port: 128}, true},
		{"truncated", ipv4("10.0.0.2", "10.0.0.1", 6, nil)[:12], header{}, false},
		{"not IP", []byte{0x00, 1, 2}, header{}, false},
		{"empty", nil, header{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseIP(tt.b)
			got.l4 = nil
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(header{}), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Fatalf("parseIP (-want +got):\n%s", diff)
			}
		})
	}
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// dnsAnswer builds the router's answer: name is a CNAME of target, which
// has the given addresses.
func dnsAnswer(t testing.TB, name, target string, ttl uint32, addrs ...string) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 1, Response: true, RecursionAvailable: true})
	b.EnableCompression()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.StartQuestions())
	must(b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}))
	must(b.StartAnswers())
	owner := dnsmessage.MustNewName(name + ".")
	if target != "" {
		must(b.CNAMEResource(dnsmessage.ResourceHeader{Name: owner, Class: dnsmessage.ClassINET, TTL: 300}, dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(target + ".")}))
		owner = dnsmessage.MustNewName(target + ".")
	}
	for _, a := range addrs {
		ad := netip.MustParseAddr(a)
		h := dnsmessage.ResourceHeader{Name: owner, Class: dnsmessage.ClassINET, TTL: ttl}
		if ad.Is4() {
			must(b.AResource(h, dnsmessage.AResource{A: ad.As4()}))
		} else {
			must(b.AAAAResource(h, dnsmessage.AAAAResource{AAAA: ad.As16()}))
		}
	}
	out, err := b.Finish()
	must(err)
	return out
}

func TestParseDNS(t *testing.T) {
	t.Parallel()
	a, ok := parseDNS(dnsAnswer(t, "cloud.mfg.example", "edge.cdn.example", 60, "192.0.2.10", "2001:db8::10"))
	want := answer{name: "cloud.mfg.example", addrs: []netip.Addr{ip("192.0.2.10"), ip("2001:db8::10")}, ttl: 60}
	if !ok {
		t.Fatal("parseDNS refused a good answer")
	}
	if diff := cmp.Diff(want, a, cmp.AllowUnexported(answer{}), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Fatalf("parseDNS (-want +got):\n%s", diff)
	}
	if _, ok := parseDNS(dnsAnswer(t, "nothing.example", "", 60)); ok {
		t.Fatal("an answer without addresses was taken")
	}
	if _, ok := parseDNS([]byte("garbage")); ok {
		t.Fatal("garbage was taken for an answer")
	}
}

// FuzzParsePacket: whatever the kernel copies into an NFLOG message (a
// device's own packet, truncated at the copy range, or a DNS answer), the
// recorder neither panics nor reads past it: a transport payload is the
// packet's own tail, and a DNS answer accepted has addresses and a name
// without its final dot.
func FuzzParsePacket(f *testing.F) {
	hbh := append([]byte{6, 0, 1, 4, 0, 0, 0, 0}, ports(40000, 443)...)
	frag6 := append([]byte{17, 0, 0, 1, 0, 0, 0, 0}, ports(53, 40000)...)
	dns := dnsAnswer(f, "cloud.mfg.example", "edge.cdn.example", 60, "192.0.2.10", "2001:db8::10")
	udp := func(payload []byte) []byte {
		b := ports(53, 40000, 0, 0, 0, 0)
		binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
		return append(b, payload...)
	}
	for _, b := range [][]byte{
		ipv4("10.0.0.2", "93.184.216.34", 6, ports(40000, 443, 0, 0, 0, 0)),
		ipv4("10.0.0.2", "10.0.0.1", 1, []byte{8, 0, 0, 0}),
		ipv6("fd00::2", "2001:db8::1", 0, hbh),
		ipv6("fd00::1", "fd00::2", 44, frag6),
		ipv4("10.0.0.1", "10.0.0.2", 17, udp(dns)),
		ipv6("fd00::1", "fd00::2", 17, udp(dns)),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := parseIP(b)
		if !ok {
			return
		}
		if !h.src.IsValid() || !h.dst.IsValid() {
			t.Fatalf("accepted a packet without addresses: %+v", h)
		}
		if h.l4 != nil {
			if len(h.l4) > len(b) || string(b[len(b)-len(h.l4):]) != string(h.l4) {
				t.Fatalf("transport payload is not the packet's tail")
			}
			a, ok := parseDNS(h.l4)
			if !ok {
				return
			}
			if len(a.addrs) == 0 || (len(a.name) > 1 && a.name[len(a.name)-1] == '.') {
				t.Fatalf("DNS answer accepted as %+v", a)
			}
		}
	})
}
