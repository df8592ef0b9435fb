package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/config"
)

func TestWatchOptions(t *testing.T) {
	t.Parallel()
	type policy struct {
		Mode      config.WatchMode
		Threshold int
		Window    time.Duration
		Lifetime  time.Duration
		Learn     time.Duration
	}
	tests := []struct {
		name string
		in   string
		want map[string]policy
		err  string
	}{
		{
			name: "defaults: notify, 10 within 10 minutes, for ever, not learned; quarantine never watched",
			in:   "config segment 'iot'\n\toption vlan '20'\nconfig segment 'q'\n\toption vlan '99'\n\toption quarantine '1'\nconfig onboarding\n\toption default_segment 'iot'\n",
			want: map[string]policy{
				"iot": {config.WatchNotify, 10, 10 * time.Minute, 0, 0},
				"q":   {config.WatchOff, 10, 10 * time.Minute, 0, 0},
			},
		},
		{
			name: "set",
			in: "config segment 'guest'\n\toption vlan '30'\n\toption watch 'quarantine'\n\toption watch_threshold '5'\n\toption watch_window '60'\n" +
				"\toption lifetime '86400'\n\toption learn '3600'\nconfig onboarding\n\toption default_segment 'guest'\n",
			want: map[string]policy{"guest": {config.WatchQuarantine, 5, time.Minute, 24 * time.Hour, time.Hour}},
		},
		{
			name: "zero lifetime is for ever",
			in:   "config segment 'guest'\n\toption vlan '30'\n\toption lifetime '0'\nconfig onboarding\n\toption default_segment 'guest'\n",
			want: map[string]policy{"guest": {config.WatchNotify, 10, 10 * time.Minute, 0, 0}},
		},
		{name: "bad mode", in: "config segment 'x'\n\toption vlan '3'\n\toption watch 'loud'\n", err: `option "watch" (line 3): invalid value "loud" (want one of off, notify, quarantine)`},
		{name: "threshold above the history", in: "config segment 'x'\n\toption vlan '3'\n\toption watch_threshold '17'\n", err: `want a whole number from 1 to 16`},
		{name: "lifetime too short", in: "config segment 'x'\n\toption vlan '3'\n\toption lifetime '30'\n", err: `option "lifetime" (line 3): invalid value "30" (want 0 for never, or a whole number of seconds from 60 to 315360000)`},
		{name: "quarantine segment quarantining", in: "config segment 'x'\n\toption vlan '3'\n\toption quarantine '1'\n\toption watch 'quarantine'\n", err: `segment "x", option 'watch': the quarantine segment cannot quarantine its devices again`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Parse("test.uci", strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse = %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]policy{}
			for _, s := range c.Segments {
				m, th, w := s.WatchPolicy()
				got[s.Name] = policy{m, th, w, s.Lifetime, s.Learn}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("policies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWatchAndAuthorizeSections(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("test.uci", strings.NewReader(`config watch 'watch'
	option unknown '0'
	option scan_interval '5'
	option log_group '42'
	option expiry_warning '0'
config authorize 'authorize'
	option hook '/usr/lib/isp/attest'
	option timeout '3'
	option on_failure 'allow'
	option interval '0'
`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (config.Watch{ScanInterval: 5 * time.Second, LogGroup: 42}); c.Watch != want {
		t.Errorf("watch = %+v, want %+v", c.Watch, want)
	}
	if want := (config.Authorize{Hook: "/usr/lib/isp/attest", Timeout: 3 * time.Second, FailOpen: true}); c.Authorize != want {
		t.Errorf("authorize = %+v, want %+v", c.Authorize, want)
	}
	for _, bad := range []string{
		"config authorize\n\toption on_failure 'maybe'\n",
		"config authorize\n\toption hook 'relative/path'\n",
		"config watch\n\toption log_group '65535'\n",
		"config watch 'a'\nconfig watch 'b'\n",
	} {
		if _, err := config.Parse("test.uci", strings.NewReader(bad)); err == nil {
			t.Errorf("Parse(%q) accepted it", bad)
		}
	}
}
