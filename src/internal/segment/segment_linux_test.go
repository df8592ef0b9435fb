package segment

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// plumber makes a namespace with a veth pair (up0, up1) for uplinks.
func plumber(t *testing.T) (*Plumber, func(string) string) {
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
		{"link", "add", "up0", "type", "veth", "peer", "up1"},
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
	}
}

func TestEnsureBridges(t *testing.T) {
	p, link := plumber(t)
	specs := []Spec{{Bridge: "br-iot"}, {Bridge: "br-guest"}}
	for range 2 { // the second time changes nothing and must not fail
		if err := p.Ensure(specs); err != nil {
			t.Fatal(err)
		}
	}
	for _, br := range []string{"br-iot", "br-guest"} {
		if l := link(br); !strings.Contains(l, "bridge") || !strings.Contains(l, ",UP") {
			t.Errorf("%s: %s", br, l)
		}
	}

}

func TestEnsureVLAN(t *testing.T) {
	p, link := plumber(t)
	vlan := []Spec{{Bridge: "br-iot", Uplink: "up0", VLAN: 10}}
	err := p.Ensure(vlan)
	if errors.Is(err, unix.EOPNOTSUPP) || (err != nil && strings.Contains(err.Error(), "not supported")) {
		t.Skipf("kernel without 802.1Q (the lab VM has it): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if l := link("up0.10"); !strings.Contains(l, "vlan") || !strings.Contains(l, "id 10") || !strings.Contains(l, "master br-iot") {
		t.Errorf("up0.10: %s", l)
	}
	if err := p.Ensure(vlan); err != nil {
		t.Errorf("again: %v", err)
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
