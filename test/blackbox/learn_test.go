package blackbox

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Learn, then lock, against the real daemon in network namespaces: a
// camera without a MUD file is being learned (its profile on flash, as a
// previous run left it, ending a few seconds from now); the connection it
// opens to 198.51.100.10:8080 reaches its profile through the daemon's own
// NFLOG rule and feed. Once the period ends, the profile is approved and
// enforced as a maker's MUD file would be: 8080 still passes, 9090, which
// the segment allowed before, is dropped.
//
//	cam 10.99.21.7 ── wlan0.20 (daemon, segment iot) ── wan ── inet 198.51.100.10
func TestLearnedProfileEnforced(t *testing.T) {
	ns, nft := netnsWithNft(t, "tjbb-ln",
		[]string{"ip", "link", "set", "lo", "up"},
		[]string{"sysctl", "-qw", "net.ipv4.ip_forward=1"},
		[]string{"ip", "link", "add", "wlan0.20", "type", "veth", "peer", "name", "cam0"},
		[]string{"ip", "addr", "add", "10.99.21.1/24", "dev", "wlan0.20"},
		[]string{"ip", "link", "set", "wlan0.20", "up"},
		[]string{"ip", "link", "add", "wan", "type", "veth", "peer", "name", "inet0"},
		[]string{"ip", "addr", "add", "198.51.100.1/24", "dev", "wan"},
		[]string{"ip", "link", "set", "wan", "up"})
	cam, inet := ns+"-cam", ns+"-inet"
	for _, n := range []string{cam, inet} {
		if out, err := exec.Command("ip", "netns", "add", n).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add: %v\n%s", err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", n).Run() })
	}
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "cam0", "netns", cam},
		{"-n", cam, "link", "set", "cam0", "address", "02:00:00:00:21:07"},
		{"-n", cam, "addr", "add", "10.99.21.7/24", "dev", "cam0"},
		{"-n", cam, "link", "set", "cam0", "up"},
		{"-n", cam, "route", "add", "default", "via", "10.99.21.1"},
		{"-n", ns, "link", "set", "inet0", "netns", inet},
		{"-n", inet, "addr", "add", "198.51.100.10/24", "dev", "inet0"},
		{"-n", inet, "link", "set", "inet0", "up"},
		{"-n", inet, "route", "add", "default", "via", "198.51.100.1"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The internet's servers.
	for _, port := range []int{8080, 9090} {
		var l net.Listener
		var lerr error
		if err := inNS(inet, func() { l, lerr = net.Listen("tcp", fmt.Sprintf("198.51.100.10:%d", port)) }); err != nil || lerr != nil {
			t.Fatalf("listening in %s: %v %v", inet, err, lerr)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "open-%d\n", port)
				c.Close()
			}
		}()
	}
	reaches := func(port int) bool {
		c, err := nsDial(cam, "", fmt.Sprintf("198.51.100.10:%d", port), time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(time.Second))
		b := make([]byte, 16)
		n, _ := c.Read(b)
		return string(b[:n]) == fmt.Sprintf("open-%d\n", port)
	}

	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	os.MkdirAll(filepath.Join(state, "learned"), 0o700)
	writeConfig(t, filepath.Join(state, "devices.json"), `{"version":1,"devices":[
		{"id":"d-cam","name":"Camera","macs":["02:00:00:00:21:07"],"segment":"iot","state":"connected","key_id":"d-cam"}],"preauthorized":[]}`)
	until := time.Now().Add(15 * time.Second)
	writeConfig(t, filepath.Join(state, "learned", "d-cam.json"), fmt.Sprintf(`{"device":"d-cam","name":"Camera","started":%q,"until":%q,"destinations":[]}`,
		time.Now().Add(-time.Minute).Format(time.RFC3339Nano), until.Format(time.RFC3339Nano)))
	cfgPath := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption state_dir '%s'\n\toption run_dir '%s/run'\n"+
		"\toption hostapd_ctrl_dir '%s/hostapd'\n\toption log_level 'debug'\n"+
		"config wifi 'home'\n\toption ifname 'wlan0'\n"+
		"config watch\n\toption unknown '0'\n", state, dir, dir))
	_, logs := startDaemon(t, []string{"ip", "netns", "exec", ns}, nil, cfgPath)
	logs.waitFor(t, "msg=ready", 1)
	run := func(args ...string) (string, error) {
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns, binary}, append(args, "--config", cfgPath)...)...).CombinedOutput()
		return string(out), err
	}
	explain := func() string {
		out, err := run("mud", "learn", "Camera", "--explain")
		if err != nil {
			t.Fatalf("mud learn: %v\n%s", err, out)
		}
		return out
	}
	waitRuleset(t, nft, "the camera's connections logged", func(r string) bool { return strings.Contains(r, `log prefix "tj-open d-cam"`) })

	// While learned, the segment (internet allowed) lets it use 8080; the
	// connection reaches its profile.
	for !strings.Contains(explain(), "connects to 198.51.100.10 on TCP port 8080") {
		if !strings.Contains(explain(), "being learned") {
			t.Fatalf("learning ended before the connection was seen:\n%s\n%s", explain(), logs.text())
		}
		if !reaches(8080) {
			t.Fatal("the camera cannot reach 8080 while learned")
		}
	}
	// Approving early is refused, saying why.
	if out, err := run("mud", "learn", "Camera", "--approve"); err == nil || !strings.Contains(out, "still being learned") {
		t.Fatalf("approving during learning: %v\n%s", err, out)
	}
	for strings.Contains(explain(), "being learned") {
		if time.Now().After(until.Add(10 * time.Second)) {
			t.Fatalf("the learning period did not end:\n%s", explain())
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitRuleset(t, nft, "the camera's connections no longer logged", func(r string) bool { return !strings.Contains(r, `log prefix "tj-open d-cam"`) })
	if !reaches(9090) {
		t.Fatal("9090 is dropped before the profile is approved: the segment allows the internet")
	}

	out, err := run("mud", "learn", "Camera", "--approve")
	if err != nil || !strings.Contains(out, "its learned profile is now its MUD file") {
		t.Fatalf("approving: %v\n%s", err, out)
	}
	out, err = run("device", "Camera", "--json")
	var d struct{ MUD struct{ URL, Status string } }
	if err != nil || json.Unmarshal([]byte(out), &d) != nil || d.MUD.Status != "enforced" || !strings.HasPrefix(d.MUD.URL, "https://learned.trustjoin.invalid/") {
		t.Fatalf("after approval: %v\n%s", err, out)
	}
	waitRuleset(t, nft, "the learned profile installed", func(r string) bool { return strings.Contains(r, "ip daddr 198.51.100.10") })
	if !reaches(8080) {
		t.Error("the camera no longer reaches what it was learned using")
	}
	if reaches(9090) {
		t.Error("the camera still reaches 9090, which it never used while learned")
	}
	// As a maker's file: mud show has its rules and counts the drop.
	if out, err := run("mud", "show", "Camera"); err != nil || !strings.Contains(out, "(enforced)") || !strings.Contains(out, "198.51.100.10") {
		t.Errorf("mud show: %v\n%s", err, out)
	}
}
