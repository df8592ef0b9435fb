package segment

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// plumber makes a namespace with a veth pair (up0, up1) for uplinks. It
// returns a Plumber for it, `ip -d link show` of a link in it, and a way
// to run ip commands in it.
func plumber(t *testing.T) (*Plumber, func(string) string, func(...string) error) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	const ns = "tjfw-seg"
	_ = exec.Command("ip", "netns", "del", ns).Run()
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{
		{"link", "add", "up0", "type", "veth", "peer", "name", "up1"},
		{"link", "set", "up0", "up"}, // a VLAN interface comes up only on a live uplink
		{"link", "set", "up1", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	f, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &Plumber{NetNS: int(f.Fd())}, func(name string) string {
			out, _ := exec.Command("ip", "-n", ns, "-d", "link", "show", name).CombinedOutput()
			return string(out)
		}, func(args ...string) error {
			if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
				return fmt.Errorf("ip %v: %v %s", args, err, out)
			}
			return nil
		}
}

// vlanLink makes a VLAN interface with ip, skipping the test on a kernel
// without 802.1Q (this machine's; the lab VM and Debian's kernel have it).
func vlanLink(t *testing.T, ip func(...string) error, parent, name, id string) {
	t.Helper()
	err := ip("link", "add", "link", parent, "name", name, "type", "vlan", "id", id)
	if err != nil && (strings.Contains(err.Error(), "Unknown device type") || strings.Contains(err.Error(), "not supported")) {
		t.Skipf("kernel without 802.1Q (the lab VM has it): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestEnsureBridges(t *testing.T) {
	p, link, _ := plumber(t)
	specs := []Spec{{Bridge: "br-iot"}, {Bridge: "br-guest"}}
	created, err := p.Ensure(specs)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"br-iot", "br-guest"}, created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	// The second time changes nothing, says so and must not fail.
	if created, err := p.Ensure(specs); err != nil || len(created) != 0 {
		t.Fatalf("again: created %v, %v", created, err)
	}
	for _, br := range []string{"br-iot", "br-guest"} {
		if l := link(br); !strings.Contains(l, "bridge") || !strings.Contains(l, ",UP") {
			t.Errorf("%s: %s", br, l)
		}
	}
}

func TestEnsureVLAN(t *testing.T) {
	p, link, _ := plumber(t)
	vlan := []Spec{{Bridge: "br-iot", Uplink: "up0", VLAN: 10}}
	created, err := p.Ensure(vlan)
	if errors.Is(err, unix.EOPNOTSUPP) || (err != nil && strings.Contains(err.Error(), "not supported")) {
		t.Skipf("kernel without 802.1Q (the lab VM has it): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"br-iot", "up0.10"}, created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if l := link("up0.10"); !strings.Contains(l, "vlan") || !strings.Contains(l, "id 10") || !strings.Contains(l, "master br-iot") || !strings.Contains(l, ",UP") {
		t.Errorf("up0.10: %s", l)
	}
	if created, err := p.Ensure(vlan); err != nil || len(created) != 0 {
		t.Errorf("again: created %v, %v", created, err)
	}
}

// A VLAN interface someone else made (netifd, say) is used as it is and
// put into the bridge; nothing is created for it.
func TestEnsureAdoptsVLAN(t *testing.T) {
	p, link, ip := plumber(t)
	vlanLink(t, ip, "up0", "up0.20", "20")
	created, err := p.Ensure([]Spec{{Bridge: "br-iot", Uplink: "up0", VLAN: 20}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"br-iot"}, created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if l := link("up0.20"); !strings.Contains(l, "master br-iot") || !strings.Contains(l, ",UP") {
		t.Errorf("up0.20: %s", l)
	}
}

// A link of the right name that is not what the spec asks for is an error
// naming it, and is left alone; nothing is made, not even the bridges of
// the specs before it.
func TestEnsureRefuses(t *testing.T) {
	p, link, ip := plumber(t)
	if err := ip("link", "add", "br-odd", "type", "veth", "peer", "odd1"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		vlan []string // a VLAN interface to make first: parent, name, id[, bridge it is a port of]
		spec Spec
		err  string
	}{
		{"not a bridge", nil, Spec{Bridge: "br-odd"}, `br-odd exists but is not a bridge (kind "veth")`},
		{"no uplink", nil, Spec{Bridge: "br-c", Uplink: "eth9", VLAN: 50}, "bridge br-c: uplink eth9: no such interface"},
		{"wrong VLAN id", []string{"up0", "up0.30", "31"}, Spec{Bridge: "br-a", Uplink: "up0", VLAN: 30}, "up0.30 exists but is not VLAN 30 on up0 (it is VLAN 31 on up0)"},
		{"wrong parent", []string{"up1", "up0.40", "40"}, Spec{Bridge: "br-b", Uplink: "up0", VLAN: 40}, "up0.40 exists but is not VLAN 40 on up0 (it is VLAN 40 on up1)"},
		{"another bridge's port", []string{"up0", "up0.60", "60", "br-lan"}, Spec{Bridge: "br-d", Uplink: "up0", VLAN: 60}, "up0.60 is a port of br-lan, not of br-d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.vlan != nil {
				vlanLink(t, ip, tt.vlan[0], tt.vlan[1], tt.vlan[2])
			}
			if len(tt.vlan) > 3 {
				for _, args := range [][]string{{"link", "add", tt.vlan[3], "type", "bridge"}, {"link", "set", tt.vlan[1], "master", tt.vlan[3]}} {
					if err := ip(args...); err != nil {
						t.Fatal(err)
					}
				}
			}
			created, err := p.Ensure([]Spec{{Bridge: "br-first"}, tt.spec})
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("want an error containing %q, got %v", tt.err, err)
			}
			if len(created) != 0 {
				t.Errorf("created %v", created)
			}
			for _, name := range []string{"br-first", tt.spec.Bridge} {
				if l := link(name); name != "br-odd" && !strings.Contains(l, "does not exist") {
					t.Errorf("%s made anyway: %s", name, l)
				}
			}
			if tt.vlan != nil {
				master := "" // no bridge, or the one it was in
				if len(tt.vlan) > 3 {
					master = "master " + tt.vlan[3] + " "
				}
				if l := link(tt.vlan[1]); !strings.Contains(l, "id "+tt.vlan[2]) || strings.Contains(l, "master") != (master != "") || !strings.Contains(l, master) {
					t.Errorf("%s was changed: %s", tt.vlan[1], l)
				}
			}
		})
	}
	if l := link("br-odd"); !strings.Contains(l, "veth") || strings.Contains(l, ",UP") {
		t.Errorf("br-odd was changed: %s", l)
	}
}

func TestSpecValidate(t *testing.T) {
	for _, s := range []Spec{
		{},
		{Bridge: "a-bridge-name-too-long"},
		{Bridge: "br", VLAN: 4095, Uplink: "eth0"},
		{Bridge: "br", VLAN: 10},
		{Bridge: "br", VLAN: 10, Uplink: "a-long-uplink"},
	} {
		if err := s.validate(); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if err := (Spec{Bridge: "br-iot", Uplink: "eth0", VLAN: 10}).validate(); err != nil {
		t.Error(err)
	}
}
