package blackbox

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// `trustjoin mud show` against the real daemon in a network namespace: a
// camera's MUD file fetched over real TLS and approved, its rules as the
// daemon installed them, and the counters moved by a real packet from the
// camera that its policy drops, which also reaches the camera's behaviour
// history through the daemon's NFLOG log rule and feed. The CLI asks the
// daemon, never nftables.
func TestMUDShow(t *testing.T) {
	ns, nft := netnsWithNft(t, "tjbb-ms",
		[]string{"ip", "link", "set", "lo", "up"},
		// The camera's Wi-Fi VLAN interface, as hostapd would make it for
		// segment iot on wlan0; its other end is the camera.
		[]string{"ip", "link", "add", "wlan0.20", "type", "veth", "peer", "name", "cam0"},
		[]string{"ip", "addr", "add", "10.99.20.1/24", "dev", "wlan0.20"},
		[]string{"ip", "link", "set", "wlan0.20", "up"})
	cam := ns + "-cam"
	if out, err := exec.Command("ip", "netns", "add", cam).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", cam).Run() })
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "cam0", "netns", cam},
		{"-n", cam, "link", "set", "cam0", "address", "02:00:00:00:00:07"},
		{"-n", cam, "addr", "add", "10.99.20.7/24", "dev", "cam0"},
		{"-n", cam, "link", "set", "cam0", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	// The manufacturer's server, inside the daemon's namespace.
	dir := t.TempDir()
	var srv *httptest.Server
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"ietf-mud:mud":{"mud-version":1,"mud-url":"%s/cam.json","last-update":"2026-01-01T00:00:00Z",
		"cache-validity":24,"is-supported":true,"systeminfo":"black-box camera",
		"from-device-policy":{"access-lists":{"access-list":[{"name":"out"}]}}},
		"ietf-access-control-list:acls":{"acl":[{"name":"out","type":"ipv4-acl-type","aces":{"ace":[
		{"name":"cloud","matches":{"ipv4":{"destination-ipv4-network":"198.51.100.0/24"},"tcp":{"destination-port":{"operator":"eq","port":443}}},
		"actions":{"forwarding":"accept"}}]}}]}}`, srv.URL)
	}))
	var lerr error
	if err := inNS(ns, func() { srv.Listener, lerr = net.Listen("tcp", "127.0.0.1:0") }); err != nil || lerr != nil {
		t.Fatalf("listening in %s: %v %v", ns, err, lerr)
	}
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	state := filepath.Join(dir, "state")
	os.MkdirAll(state, 0o700)
	writeConfig(t, filepath.Join(state, "devices.json"), `{"version":1,"devices":[
		{"id":"d-cam","name":"Camera","macs":["02:00:00:00:00:07"],"segment":"iot","state":"connected"},
		{"id":"d-new","name":"Doorbell","segment":"iot","state":"onboarding"}],"preauthorized":[]}`)
	cfgPath := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption state_dir '%s'\n\toption run_dir '%s/run'\n"+
		"\toption hostapd_ctrl_dir '%s/hostapd'\n\toption log_level 'debug'\n"+
		"config wifi 'home'\n\toption ifname 'wlan0'\n", state, dir, dir))
	_, logs := startDaemon(t, []string{"ip", "netns", "exec", ns}, []string{"SSL_CERT_FILE=" + caFile}, cfgPath)
	logs.waitFor(t, "msg=ready", 1)

	run := func(args ...string) (string, error) {
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns, binary}, append(args, "--config", cfgPath)...)...).CombinedOutput()
		return string(out), err
	}
	show := func() (e struct {
		Device struct {
			MUD struct{ URL, Status string }
		}
		InFirewall bool   `json:"in_firewall"`
		Reason     string `json:"reason"`
		Rules      string `json:"rules"`
		Counters   *struct {
			Accepted uint64 `json:"accepted_packets"`
			Dropped  uint64 `json:"dropped_packets"`
		}
	}) {
		t.Helper()
		out, err := run("mud", "show", "Camera", "--json")
		if err != nil {
			t.Fatalf("mud show: %v\n%s", err, out)
		}
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			t.Fatalf("mud show: %v\n%s", err, out)
		}
		return e
	}

	// No MUD file yet: the segment's confinement, in the firewall.
	if e := show(); !e.InFirewall || e.Counters == nil || !strings.Contains(e.Rules, "table inet trustjoin {") ||
		!strings.Contains(e.Rules, "table bridge trustjoin {") || e.Device.MUD.URL != "" {
		t.Fatalf("before a MUD file: %+v", e)
	}

	url := srv.URL + "/cam.json"
	if out, err := run("mud", "set", "Camera", url); err != nil {
		t.Fatalf("mud set: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for e := show(); e.Device.MUD.Status != "pending-approval"; e = show() {
		if time.Now().After(deadline) {
			t.Fatalf("the MUD file never waited for approval: %+v", e)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := run("mud", "approve", "Camera"); err != nil {
		t.Fatalf("mud approve: %v\n%s", err, out)
	}
	waitRuleset(t, nft, "the camera's policy installed", func(r string) bool { return strings.Contains(r, "198.51.100.0/24") })

	// A connection the policy does not allow (the router's ssh) is dropped
	// and counted.
	if c, err := nsDial(cam, "", "10.99.20.1:22", time.Second); err == nil {
		c.Close()
		t.Fatal("the camera reached the router's port 22")
	}
	e := show()
	if e.Device.MUD.Status != "enforced" || !e.InFirewall {
		t.Fatalf("after approval: %+v", e)
	}
	if !regexp.MustCompile(`ip daddr 198\.51\.100\.0/24 (tcp|th) dport 443`).MatchString(e.Rules) {
		t.Errorf("the rules lack the file's entry:\n%s", e.Rules)
	}
	if e.Counters == nil || e.Counters.Dropped == 0 {
		t.Errorf("counters after a dropped connection: %+v", e.Counters)
	}
	if !regexp.MustCompile(`counter c\d+x \{\n\t\tpackets [1-9]`).MatchString(e.Rules) {
		t.Errorf("the rules' drop counter shows no packet:\n%s", e.Rules)
	}

	// The drop also reached the behaviour recorder, through the daemon's
	// own log rule and NFLOG feed: the camera's history shows it.
	dropped := func() (bool, string) {
		out, err := run("device", "Camera", "--json")
		if err != nil {
			t.Fatalf("device: %v\n%s", err, out)
		}
		var d struct {
			Behaviour *struct {
				Dropped uint64 `json:"dropped"`
				Entries []struct {
					Verdict, Address string
					Proto            int
					Port             int
				} `json:"entries"`
			} `json:"behaviour"`
		}
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatalf("device: %v\n%s", err, out)
		}
		if d.Behaviour == nil {
			return false, out
		}
		for _, e := range d.Behaviour.Entries {
			if e.Verdict == "dropped" && e.Address == "10.99.20.1" && e.Proto == 6 && e.Port == 22 {
				return d.Behaviour.Dropped > 0, out
			}
		}
		return false, out
	}
	deadline = time.Now().Add(20 * time.Second)
	for ok, out := dropped(); !ok; ok, out = dropped() {
		if time.Now().After(deadline) {
			t.Fatalf("the dropped connection is not in the camera's behaviour:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := run("device", "Camera"); err != nil || !strings.Contains(out, "dropped 10.99.20.1:22/tcp") {
		t.Errorf("trustjoin device does not show the drop: %v\n%s", err, out)
	}

	// For people: the policy, the counters and the rules.
	out, err := run("mud", "show", "Camera")
	if err != nil {
		t.Fatalf("mud show: %v\n%s", err, out)
	}
	t.Logf("trustjoin mud show Camera:\n%s", out)
	for _, want := range []string{"Camera (d-cam)\n", "  MUD: " + url + " (enforced)", "  firewall: accepted ", " dropped ", "\ttable inet trustjoin {\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("mud show lacks %q:\n%s", want, out)
		}
	}

	// A device with no MAC address yet has no rules of its own; an
	// unknown one is a usage error.
	if out, err := run("mud", "show", "Doorbell"); err != nil || !strings.Contains(out, "firewall: no MAC address is known") {
		t.Errorf("mud show of a device without a MAC: %v\n%s", err, out)
	}
	if out, err := run("mud", "show", "Nobody"); exitCode(err) != 2 || !strings.Contains(out, "not found") {
		t.Errorf("mud show of an unknown device: %v\n%s", err, out)
	}
}
