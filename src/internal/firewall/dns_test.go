package firewall

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/dns/dnsmessage"
)

// fakeDNS answers every question with the resources f returns.
func fakeDNS(t testing.TB, f func(q dnsmessage.Question) (dnsmessage.RCode, []dnsmessage.Resource)) string {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		b := make([]byte, 1500)
		for {
			n, a, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if err := m.Unpack(b[:n]); err != nil || len(m.Questions) != 1 {
				continue
			}
			m.Header.Response = true
			m.Header.RCode, m.Answers = f(m.Questions[0])
			out, _ := m.Pack()
			_, _ = pc.WriteTo(out, a)
		}
	}()
	return pc.LocalAddr().String()
}

func rr(name string, ttl uint32, body dnsmessage.ResourceBody) dnsmessage.Resource {
	var typ dnsmessage.Type
	switch body.(type) {
	case *dnsmessage.AResource:
		typ = dnsmessage.TypeA
	case *dnsmessage.AAAAResource:
		typ = dnsmessage.TypeAAAA
	case *dnsmessage.CNAMEResource:
		typ = dnsmessage.TypeCNAME
	}
	return dnsmessage.Resource{Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET, TTL: ttl}, Body: body}
}

func TestResolve(t *testing.T) {
	server := fakeDNS(t, func(q dnsmessage.Question) (dnsmessage.RCode, []dnsmessage.Resource) {
		switch q.Name.String() {
		case "cloud.example.":
			if q.Type == dnsmessage.TypeA {
				return dnsmessage.RCodeSuccess, []dnsmessage.Resource{
					rr("cloud.example.", 600, &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName("edge.example.")}),
					rr("edge.example.", 120, &dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}}),
					rr("edge.example.", 90, &dnsmessage.AResource{A: [4]byte{192, 0, 2, 2}}),
				}
			}
			return dnsmessage.RCodeSuccess, []dnsmessage.Resource{
				rr("cloud.example.", 3000, &dnsmessage.AAAAResource{AAAA: netip.MustParseAddr("2001:db8::1").As16()}),
			}
		case "short.example.":
			if q.Type == dnsmessage.TypeA {
				return dnsmessage.RCodeSuccess, []dnsmessage.Resource{rr("short.example.", 1, &dnsmessage.AResource{A: [4]byte{192, 0, 2, 3}})}
			}
			return dnsmessage.RCodeSuccess, nil
		case "broken.example.":
			return dnsmessage.RCodeServerFailure, nil
		}
		return dnsmessage.RCodeNameError, nil
	})
	tests := []struct {
		name    string
		want    answer
		wantErr bool
	}{
		{"cloud.example", answer{addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::1")}, ttl: 90 * time.Second}, false},
		{"short.example.", answer{addrs: []netip.Addr{netip.MustParseAddr("192.0.2.3")}, ttl: minTTL}, false},
		{"nowhere.example", answer{ttl: minTTL}, false},
		{"broken.example", answer{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve(context.Background(), server, tt.name)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(answer{}), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
	// A resolver that does not answer is an error, not a hang.
	dead, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer dead.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := resolve(ctx, dead.LocalAddr().String(), "cloud.example"); err == nil {
		t.Error("no error from a silent resolver")
	}
}

func TestValidateSegments(t *testing.T) {
	tests := []struct {
		name string
		segs []Segment
		ok   bool
	}{
		{"fine", []Segment{{Name: "a", Ifaces: []string{"br-a"}, Reach: []string{"b"}}, {Name: "b", Ifaces: []string{"br-b", "br-b2"}}}, true},
		{"none", nil, true},
		{"nameless", []Segment{{Ifaces: []string{"x"}}}, false},
		{"twice", []Segment{{Name: "a"}, {Name: "a"}}, false},
		{"shared iface", []Segment{{Name: "a", Ifaces: []string{"x"}}, {Name: "b", Ifaces: []string{"x"}}}, false},
		{"unknown reach", []Segment{{Name: "a", Reach: []string{"c"}}}, false},
		{"long iface", []Segment{{Name: "a", Ifaces: []string{"sixteen-chars-xx"}}}, false},
		{"empty iface", []Segment{{Name: "a", Ifaces: []string{""}}}, false},
	}
	for _, tt := range tests {
		if err := validateSegments(tt.segs); (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
