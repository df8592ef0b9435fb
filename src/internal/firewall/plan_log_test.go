package firewall

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPlanLogging: with a log group, what package behaviour needs is
// logged, and nothing else: a device's own drops (not what others send
// it), a segment's drops, unicast only and rate-limited, headers only;
// the connections of a device being learned, only while it is; DNS
// answers whole, to the next group. Without one, nothing is.
func TestPlanLogging(t *testing.T) {
	const drop = `meta pkttype != broadcast meta pkttype != multicast limit rate 50/second burst 100 packets log prefix "tj-drop`
	tests := []struct {
		name     string
		group    uint16
		learning bool
		want     []string
		not      []string // substrings no line may have
	}{
		{
			name:  "no log group: nothing logged",
			group: 0,
			not:   []string{"log prefix", "chain inet tj output"},
		},
		{
			name:  "drops of the device and of its segment, DNS answers",
			group: 1170,
			want: []string{
				"add rule inet tj d0o " + drop + ` cam" group 1170 snaplen 128`,
				"add rule inet tj d0l " + drop + ` cam" group 1170 snaplen 128`,
				"add rule bridge tj d0o " + drop + ` cam" group 1170 snaplen 128`,
				"add rule inet tj s0_0 " + drop + `" group 1170 snaplen 128`,
				"add chain inet tj output { type filter hook output priority -110; policy accept; }",
				`add rule inet tj output oifname @lan meta l4proto udp th sport 53 limit rate 200/second burst 400 packets log prefix "tj-dns" group 1171`,
			},
			// What others send the device is no attempt of its own; its
			// connections are not logged unless it is being learned.
			not: []string{"add rule inet tj d0i " + drop, "add rule bridge tj d0i " + drop, "tj-open", "tj-in"},
		},
		{
			name:     "a device being learned: the first packet of each connection",
			group:    1170,
			learning: true,
			want: []string{
				`add rule inet tj d0o ct state new limit rate 50/second burst 100 packets log prefix "tj-open cam" group 1170 snaplen 128`,
				`add rule inet tj d0l ct state new limit rate 50/second burst 100 packets log prefix "tj-open cam" group 1170 snaplen 128`,
				`add rule inet tj d0i ct state new limit rate 50/second burst 100 packets log prefix "tj-in cam" group 1170 snaplen 128`,
			},
			// No conntrack in the bridge table.
			not: []string{"add rule bridge tj d0o ct state new"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testState(Options{Table: "tj", LogGroup: tt.group})
			s.segs = planSegs
			if tt.learning {
				s.learning["cam"] = true
			}
			b, commit, err := s.planApply(cam(webPolicy), nil, time.Unix(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			commit()
			script := s.planTables(nil, nil, time.Unix(0, 0)).script() + b.script()
			got := strings.Split(script, "\n")
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %q", w)
				}
			}
			for _, n := range tt.not {
				for _, l := range got {
					if strings.Contains(l, n) {
						t.Errorf("unwanted %q", l)
					}
				}
			}
			if t.Failed() {
				t.Logf("batches:\n%s", script)
			}
		})
	}
}
