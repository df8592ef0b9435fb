package watch

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/firewall"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// fakeFirewall and fakeRadios note what they are asked.
type fakeFirewall struct{ got []string }

func (f *fakeFirewall) Apply(_ context.Context, d firewall.Device) error {
	what := "quarantined"
	if !d.Quarantined {
		what = fmt.Sprintf("%d rules", len(d.Policy.FromDevice))
	}
	f.got = append(f.got, fmt.Sprintf("apply %s %s %s", d.ID, d.MACs[0], what))
	return nil
}

func (f *fakeFirewall) Remove(_ context.Context, id string) error {
	f.got = append(f.got, "remove "+id)
	return nil
}

type fakeRadios struct{ got []string }

func (r *fakeRadios) Deny(_ context.Context, mac string) error {
	r.got = append(r.got, "deny "+mac)
	return nil
}

func (r *fakeRadios) Undeny(_ context.Context, mac string) error {
	r.got = append(r.got, "undeny "+mac)
	return nil
}

func TestHandleUnknown(t *testing.T) {
	t.Parallel()
	g := newRig(t, nil, "")
	fw, radios := &fakeFirewall{}, &fakeRadios{}
	file := filepath.Join(t.TempDir(), "unknown.json")
	g.w.o.Firewall, g.w.o.Radios, g.w.o.HandledFile = fw, radios, file
	ctx := context.Background()

	if _, err := g.w.Handle(ctx, "02:00:00:00:00:99", Block); err != nil {
		t.Fatal(err)
	}
	if _, err := g.w.Handle(ctx, "02:00:00:00:00:98", Guest); err != nil {
		t.Fatal(err)
	}
	want := "apply u-020000000099 02:00:00:00:00:99 quarantined|apply u-020000000098 02:00:00:00:00:98 4 rules"
	if got := strings.Join(fw.got, "|"); got != want {
		t.Fatalf("firewall asked %q, want %q", got, want)
	}
	if got := strings.Join(radios.got, "|"); got != "deny 02:00:00:00:00:99|undeny 02:00:00:00:00:98" {
		t.Fatalf("radios asked %q", got)
	}
	// Kept across a restart.
	fw.got, radios.got = nil, nil
	if err := g.w.RestoreHandled(ctx); err != nil {
		t.Fatal(err)
	}
	if len(fw.got) != 2 || radios.got[0] != "deny 02:00:00:00:00:99" {
		t.Fatalf("restored: firewall %q, radios %q", fw.got, radios.got)
	}
	// Undone.
	fw.got, radios.got = nil, nil
	if _, err := g.w.Handle(ctx, "02:00:00:00:00:99", ""); err != nil {
		t.Fatal(err)
	}
	if strings.Join(fw.got, "|") != "remove u-020000000099" || strings.Join(radios.got, "|") != "undeny 02:00:00:00:00:99" {
		t.Fatalf("undo: firewall %q, radios %q", fw.got, radios.got)
	}
	hs, _ := g.w.HandledList()
	if len(hs) != 1 || hs[0].MAC != "02:00:00:00:00:98" {
		t.Fatalf("handled = %+v", hs)
	}
	// The household's own devices are not for this, nor is nonsense.
	for _, bad := range []struct{ mac, action, want string }{
		{"02:00:00:00:00:01", Block, "one of the household's devices"},
		{"not-a-mac", Block, "not a MAC address"},
		{"02:00:00:00:00:97", "befriend", `unknown action "befriend"`},
	} {
		if _, err := g.w.Handle(ctx, bad.mac, bad.action); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Handle(%s, %s) = %v, want %q", bad.mac, bad.action, err, bad.want)
		}
	}
	if ev := g.events(); len(ev) != 3 || ev[0] != "unknown-device: 02:00:00:00:00:99 blocked by the householder" {
		t.Fatalf("events = %q", ev)
	}
}

func TestGuestPolicyIsAMUDPolicy(t *testing.T) {
	t.Parallel()
	p := guestPolicy()
	for _, r := range p.FromDevice {
		if r.Peer == mud.PeerLocalNetworks && r.Accept {
			t.Fatal("a guest may reach local networks")
		}
	}
	if len(p.ToDevice) != 0 || p.NamesNoACL {
		t.Fatalf("a guest accepts connections, or is not confined: %+v", p)
	}
}
