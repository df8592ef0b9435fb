package brski

import (
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// registrarAnswer is an mDNS answer announcing a registrar the way
// avahi and the python-zeroconf registrar in testdata do: PTR in the
// answers, SRV and address records as additionals.
func registrarAnswer(tb testing.TB, id uint16, addrs ...netip.Addr) []byte {
	tb.Helper()
	svc := dnsmessage.MustNewName(registrarService)
	inst := dnsmessage.MustNewName("reg." + registrarService)
	host := dnsmessage.MustNewName("reg.local.")
	hdr := func(n dnsmessage.Name, t dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: n, Type: t, Class: dnsmessage.ClassINET, TTL: 120}
	}
	m := dnsmessage.Message{
		Header:      dnsmessage.Header{ID: id, Response: true, Authoritative: true},
		Answers:     []dnsmessage.Resource{{Header: hdr(svc, dnsmessage.TypePTR), Body: &dnsmessage.PTRResource{PTR: inst}}},
		Additionals: []dnsmessage.Resource{{Header: hdr(inst, dnsmessage.TypeSRV), Body: &dnsmessage.SRVResource{Target: host, Port: 8443}}},
	}
	for _, a := range addrs {
		if a.Is4() {
			m.Additionals = append(m.Additionals, dnsmessage.Resource{Header: hdr(host, dnsmessage.TypeA), Body: &dnsmessage.AResource{A: a.As4()}})
		} else {
			m.Additionals = append(m.Additionals, dnsmessage.Resource{Header: hdr(host, dnsmessage.TypeAAAA), Body: &dnsmessage.AAAAResource{AAAA: a.As16()}})
		}
	}
	b, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestServiceFromAnswer(t *testing.T) {
	v6, v4 := netip.MustParseAddr("fe80::10"), netip.MustParseAddr("192.0.2.10")
	query, err := mdnsQuery(7, registrarService)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		b       []byte
		id      uint16
		want    netip.AddrPort
		wantErr string
	}{
		{"IPv6 preferred", registrarAnswer(t, 7, v4, v6), 7, netip.AddrPortFrom(v6, 8443), ""},
		{"IPv4 only", registrarAnswer(t, 7, v4), 7, netip.AddrPortFrom(v4, 8443), ""},
		{"unsolicited", registrarAnswer(t, 0, v6), 7, netip.AddrPortFrom(v6, 8443), ""},
		{"another query's answer", registrarAnswer(t, 8, v6), 7, netip.AddrPort{}, "not an answer"},
		{"a query, not an answer", query, 7, netip.AddrPort{}, "not an answer"},
		{"no address", registrarAnswer(t, 7), 7, netip.AddrPort{}, "no address record"},
		{"truncated", registrarAnswer(t, 7, v6)[:30], 7, netip.AddrPort{}, "malformed mDNS answer"},
		{"empty", nil, 7, netip.AddrPort{}, "malformed mDNS answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := serviceFromAnswer(tt.b, registrarService, tt.id)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %s, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// FuzzServiceFromAnswer: whatever arrives on the mDNS port, the proxy
// neither panics nor accepts a registrar the answer does not name: an
// accepted address is one of the message's own address records, for the
// SRV target the service's PTR points to, with that SRV's port.
func FuzzServiceFromAnswer(f *testing.F) {
	f.Add(registrarAnswer(f, 7, netip.MustParseAddr("fe80::10")))
	f.Add(registrarAnswer(f, 0, netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::1")))
	f.Add(registrarAnswer(f, 7))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := serviceFromAnswer(b, registrarService, 7)
		if err != nil {
			return
		}
		var m dnsmessage.Message
		if err := m.Unpack(b); err != nil {
			t.Fatalf("accepted %s from a message that does not parse: %v", got, err)
		}
		if got.Port() == 0 {
			t.Fatalf("accepted port 0")
		}
		var srvPorts = map[string]uint16{}
		for _, r := range append(m.Answers, m.Additionals...) {
			if s, ok := r.Body.(*dnsmessage.SRVResource); ok {
				srvPorts[strings.ToLower(s.Target.String())] = s.Port
			}
		}
		for _, r := range append(m.Answers, m.Additionals...) {
			var a netip.Addr
			switch body := r.Body.(type) {
			case *dnsmessage.AAAAResource:
				a = netip.AddrFrom16(body.AAAA)
			case *dnsmessage.AResource:
				a = netip.AddrFrom4(body.A)
			default:
				continue
			}
			if a == got.Addr() && srvPorts[strings.ToLower(r.Header.Name.String())] == got.Port() {
				return
			}
		}
		t.Fatalf("accepted %s, which no SRV and address record of the answer names", got)
	})
}
