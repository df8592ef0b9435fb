package inventory

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// The router of these tests: access point wlan0 in br-lan (the shared
// password's), per-station interfaces tj0v4096 and tj0v4097 in brvlan20
// (segment iot), wired port lan1 in br-lan, eth0.20 in brvlan20, and a
// WAN port nobody watches.
var router = []Link{
	{Name: "br-lan", MAC: mac("02:0a:00:00:00:01")},
	{Name: "wlan0", Master: "br-lan", MAC: mac("02:0a:00:00:00:02"), Wireless: true},
	{Name: "lan1", Master: "br-lan", MAC: mac("02:0a:00:00:00:03")},
	{Name: "brvlan20", MAC: mac("02:0a:00:00:00:04")},
	{Name: "tj0v4096", Master: "brvlan20", MAC: mac("02:0a:00:00:00:02"), Wireless: true},
	{Name: "tj0v4097", Master: "brvlan20", MAC: mac("02:0a:00:00:00:02"), Wireless: true},
	{Name: "eth0.20", Master: "brvlan20", MAC: mac("02:0a:00:00:00:05")},
	{Name: "wan", MAC: mac("02:0a:00:00:00:06")},
}

var watch = map[string]string{"br-lan": "", "wlan0": "", "brvlan20": "iot"}

var known = []Known{
	{MAC: mac("02:00:00:00:00:01"), ID: "d1", Name: "camera", Segment: "iot"},
	{MAC: mac("02:00:00:00:00:02"), ID: "d2", Name: "plug", Segment: "iot"},
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		snap Snapshot
		want []Unknown
	}{
		{
			name: "the household's devices in their segment",
			snap: Snapshot{
				Stations:   []Station{{MAC: mac("02:00:00:00:00:01"), Iface: "tj0v4096"}},
				FDB:        []FDBEntry{{MAC: mac("02:00:00:00:00:01"), Port: "tj0v4096", Bridge: "brvlan20"}},
				Neighbours: []Neighbour{{MAC: mac("02:00:00:00:00:01"), Iface: "brvlan20", Addr: ip("10.0.20.5")}},
			},
		},
		{
			name: "station on the shared password, with its lease and addresses",
			snap: Snapshot{
				Stations:   []Station{{MAC: mac("02:00:00:00:00:99"), Iface: "wlan0"}},
				FDB:        []FDBEntry{{MAC: mac("02:00:00:00:00:99"), Port: "wlan0", Bridge: "br-lan"}},
				Neighbours: []Neighbour{{MAC: mac("02:00:00:00:00:99"), Iface: "br-lan", Addr: ip("fe80::99")}},
				Leases:     []Lease{{MAC: mac("02:00:00:00:00:99"), Addr: ip("192.168.1.99"), Hostname: "android-1"}},
			},
			want: []Unknown{{MAC: "02:00:00:00:00:99", Kind: SharedPassword, Iface: "wlan0", SeenBy: []string{"nl80211"},
				Addresses: []string{"192.168.1.99", "fe80::99"}, Hostname: "android-1"}},
		},
		{
			name: "station on the shared password, on a per-station interface bridged nowhere",
			snap: Snapshot{Stations: []Station{{MAC: mac("02:00:00:00:00:98"), Iface: "tj0v4099", AP: "wlan0"}}},
			want: []Unknown{{MAC: "02:00:00:00:00:98", Kind: SharedPassword, Iface: "wlan0", SeenBy: []string{"nl80211"}}},
		},
		{
			name: "a device of the household on its per-station interface, in its segment",
			snap: Snapshot{Stations: []Station{{MAC: mac("02:00:00:00:00:01"), Iface: "tj0v4096", AP: "wlan0"}}},
		},
		{
			name: "station in a segment's VLAN that no device is",
			snap: Snapshot{Stations: []Station{{MAC: mac("02:00:00:00:00:77"), Iface: "tj0v4097"}}},
			want: []Unknown{{MAC: "02:00:00:00:00:77", Kind: Unrecognised, Iface: "tj0v4097", Segment: "iot", SeenBy: []string{"nl80211"}}},
		},
		{
			name: "a device of the household on the shared password",
			snap: Snapshot{Stations: []Station{{MAC: mac("02:00:00:00:00:02"), Iface: "wlan0"}}},
			want: []Unknown{{MAC: "02:00:00:00:00:02", Kind: WrongSegment, Iface: "wlan0", Device: "d2", Name: "plug", Expected: "iot", SeenBy: []string{"nl80211"}}},
		},
		{
			name: "wired, seen by the bridge and the neighbour table",
			snap: Snapshot{
				FDB:        []FDBEntry{{MAC: mac("02:00:00:00:00:55"), Port: "lan1", Bridge: "br-lan"}},
				Neighbours: []Neighbour{{MAC: mac("02:00:00:00:00:55"), Iface: "br-lan", Addr: ip("192.168.1.55")}},
			},
			want: []Unknown{{MAC: "02:00:00:00:00:55", Kind: Wired, Iface: "lan1", SeenBy: []string{"fdb", "neighbour"}, Addresses: []string{"192.168.1.55"}}},
		},
		{
			name: "wired into a segment's VLAN by its uplink, seen by the neighbour table only",
			snap: Snapshot{Neighbours: []Neighbour{{MAC: mac("02:00:00:00:00:56"), Iface: "brvlan20", Addr: ip("10.0.20.56")}}},
			want: []Unknown{{MAC: "02:00:00:00:00:56", Kind: Wired, Iface: "brvlan20", Segment: "iot", SeenBy: []string{"neighbour"}, Addresses: []string{"10.0.20.56"}}},
		},
		{
			name: "a device of the household plugged into the LAN",
			snap: Snapshot{FDB: []FDBEntry{{MAC: mac("02:00:00:00:00:01"), Port: "lan1", Bridge: "br-lan"}}},
			want: []Unknown{{MAC: "02:00:00:00:00:01", Kind: WrongSegment, Iface: "lan1", Device: "d1", Name: "camera", Expected: "iot", SeenBy: []string{"fdb"}}},
		},
		{
			name: "not news: the WAN side, the router's own, multicast, zero, leases alone, Wi-Fi ports",
			snap: Snapshot{
				FDB: []FDBEntry{
					{MAC: mac("02:00:00:00:00:66"), Port: "wan"},
					{MAC: mac("02:0a:00:00:00:03"), Port: "lan1", Bridge: "br-lan"},
					{MAC: mac("33:33:00:00:00:01"), Port: "lan1", Bridge: "br-lan"},
					{MAC: mac("00:00:00:00:00:00"), Port: "lan1", Bridge: "br-lan"},
					// A station that left: the bridge still remembers it on
					// the access point's port, nl80211 no longer has it.
					{MAC: mac("02:00:00:00:00:44"), Port: "wlan0", Bridge: "br-lan"},
				},
				Neighbours: []Neighbour{{MAC: mac("02:00:00:00:00:67"), Iface: "wan", Addr: ip("198.51.100.1")}},
				Leases:     []Lease{{MAC: mac("02:00:00:00:00:68"), Addr: ip("192.168.1.68"), Hostname: "gone"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.snap.Links = router
			got := Classify(tt.snap, known, watch)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("Classify (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeSource hands out the snapshots it is given, one a scan.
type fakeSource struct{ snaps []Snapshot }

func (f *fakeSource) Snapshot(context.Context) (Snapshot, error) {
	s := f.snaps[0]
	if len(f.snaps) > 1 {
		f.snaps = f.snaps[1:]
	}
	s.Links = router
	return s, nil
}

func TestInventoryListsAfterTwoScansAndForgetsOnceOnboarded(t *testing.T) {
	t.Parallel()
	phone := mac("02:00:00:00:00:99")
	onShared := Snapshot{Stations: []Station{{MAC: phone, Iface: "wlan0"}}}
	onboarded := Snapshot{Stations: []Station{{MAC: phone, Iface: "tj0v4097"}}}
	src := &fakeSource{snaps: []Snapshot{onShared, onShared, onShared, onboarded}}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ks := append([]Known(nil), known...)
	var news []Unknown
	inv := New(Options{Source: src, Watch: watch, Known: func() []Known { return ks },
		Now: func() time.Time { return now }, OnNew: func(u Unknown) { news = append(news, u) }})
	scan := func() []Unknown {
		t.Helper()
		l, err := inv.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		return l
	}
	if l := scan(); len(l) != 0 {
		t.Fatalf("listed after one scan: %+v", l)
	}
	l := scan()
	if len(l) != 1 || l[0].Kind != SharedPassword || !l[0].FirstSeen.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("after two scans: %+v, want the phone on the shared password, first seen at the first scan", l)
	}
	if len(news) != 1 || news[0].MAC != phone.String() {
		t.Fatalf("news = %+v, want the phone once", news)
	}
	scan()
	if len(news) != 1 {
		t.Fatalf("news = %+v, want the phone reported once", news)
	}
	// Onboarded: it is one of the household's devices, in its segment.
	ks = append(ks, Known{MAC: phone, ID: "d3", Name: "phone", Segment: "iot"})
	if l := scan(); len(l) != 0 {
		t.Fatalf("listed once onboarded: %+v", l)
	}
	if got, err := inv.List(); len(got) != 0 || err != nil {
		t.Fatalf("List = %+v, %v; want nothing", got, err)
	}
}

func TestNewsOnceADay(t *testing.T) {
	t.Parallel()
	seen := Snapshot{FDB: []FDBEntry{{MAC: mac("02:00:00:00:00:55"), Port: "lan1", Bridge: "br-lan"}}}
	src := &fakeSource{snaps: []Snapshot{seen, seen, {}, seen, seen, {}, seen, seen}}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var news int
	inv := New(Options{Source: src, Watch: watch, Now: func() time.Time { return now }, OnNew: func(Unknown) { news++ }})
	for i, step := range []time.Duration{time.Minute, time.Minute, time.Minute, time.Minute, 25 * time.Hour, time.Minute, time.Minute, time.Minute} {
		if _, err := inv.Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		now = now.Add(step)
		_ = i
	}
	// Listed at scans 2, 5 and 8; news at 2 and, a day later, 8.
	if news != 2 {
		t.Fatalf("%d news, want 2 (once a day)", news)
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		u    Unknown
		want string
	}{
		{Unknown{MAC: "02:00:00:00:00:99", Kind: SharedPassword, Iface: "wlan0", Hostname: "android\x1b"}, `02:00:00:00:00:99 is on Wi-Fi (wlan0) with the shared password, calls itself "android\x1b"`},
		{Unknown{MAC: "02:00:00:00:00:55", Kind: Wired, Iface: "lan1"}, "02:00:00:00:00:55 is wired into the household network (lan1)"},
		{Unknown{MAC: "02:00:00:00:00:01", Kind: WrongSegment, Iface: "lan1", Name: "camera", Expected: "iot"}, "device camera (02:00:00:00:00:01) is on the household network (lan1), not segment iot"},
		{Unknown{MAC: "02:00:00:00:00:77", Kind: Unrecognised, Iface: "tj0v4097", Segment: "iot"}, "02:00:00:00:00:77 is on Wi-Fi in segment iot (tj0v4097) but is none of the household's devices"},
	} {
		if got := Describe(tt.u); got != tt.want {
			t.Errorf("Describe(%+v) = %q, want %q", tt.u, got, tt.want)
		}
	}
}
