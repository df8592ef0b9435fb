package blackbox

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The MUD path from the outside: dnsmasq's DHCP hotplug script records a
// device's MUD URL, the real daemon fetches the file over real TLS (its
// server's CA given through SSL_CERT_FILE), the CLI shows the status and
// the householder approves the unsigned file.
func TestMUDFromDHCPToApproval(t *testing.T) {
	dir := t.TempDir()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cam.json" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"ietf-mud:mud":{"mud-version":1,"mud-url":"%s/cam.json","last-update":"2026-01-01T00:00:00Z",
		"cache-validity":24,"is-supported":true,"systeminfo":"black-box camera",
		"from-device-policy":{"access-lists":{"access-list":[{"name":"out"}]}}},
		"ietf-access-control-list:acls":{"acl":[{"name":"out","type":"ipv4-acl-type","aces":{"ace":[
		{"name":"a","matches":{"tcp":{"destination-port":{"port":443}}},"actions":{"forwarding":"accept"}}]}}]}}`, srv.URL)
	}))
	defer srv.Close()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	// A registry from an earlier life: one onboarded camera.
	state := filepath.Join(dir, "state")
	os.MkdirAll(state, 0o700)
	writeConfig(t, filepath.Join(state, "devices.json"), `{"version":1,"devices":[{"id":"d-cam","name":"Camera",
		"macs":["02:00:00:00:00:07"],"segment":"iot","state":"connected"}],"preauthorized":[]}`)
	cfgPath := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption firewall '0'\n\toption state_dir '%s'\n\toption run_dir '%s/run'\n", state, dir))

	_, logs := startDaemon(t, nil, []string{"SSL_CERT_FILE=" + caFile}, cfgPath)
	logs.waitFor(t, "msg=ready", 1)
	logs.waitFor(t, "no firewall to enforce MUD policies with", 1)

	// The shipped hotplug script, as OpenWrt's dhcp-script.sh runs it.
	wrapper := filepath.Join(dir, "trustjoin-wrapper")
	writeConfig(t, wrapper, fmt.Sprintf("#!/bin/sh\nexec %s \"$@\" --config %s\n", binary, cfgPath))
	os.Chmod(wrapper, 0o755)
	script, err := filepath.Abs("../../files/etc/hotplug.d/dhcp/50-trustjoin-mud")
	if err != nil {
		t.Fatal(err)
	}
	hotplug := func(mac, url string) (string, error) {
		c := exec.Command("/bin/sh", script)
		c.Env = append(os.Environ(), "ACTION=add", "MACADDR="+mac, "IPADDR=192.168.1.50", "DNSMASQ_MUD_URL="+url, "TRUSTJOIN="+wrapper)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	url := srv.URL + "/cam.json"
	if out, err := hotplug("02:00:00:00:00:07", url); err != nil {
		t.Fatalf("hotplug script: %v\n%s", err, out)
	}

	device := func() map[string]any {
		out, err := exec.Command(binary, "device", "Camera", "--json", "--config", cfgPath).Output()
		if err != nil {
			t.Fatalf("trustjoin device: %v", err)
		}
		var d map[string]any
		if err := json.Unmarshal(out, &d); err != nil {
			t.Fatal(err)
		}
		return d["mud"].(map[string]any)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := device()
		if m["url"] == url && m["status"] == "pending-approval" && strings.Contains(m["detail"].(string), "not signed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("MUD status never became pending-approval: %v", m)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// An unknown MAC address is refused clearly and records nothing.
	out, err := hotplug("02:00:00:00:00:99", srv.URL+"/other.json")
	if err == nil || !strings.Contains(out, "no device with MAC address 02:00:00:00:00:99") {
		t.Fatalf("unknown MAC: %v\n%s", err, out)
	}
	if m := device(); m["url"] != url {
		t.Fatalf("unknown MAC changed the camera: %v", m)
	}
	// No MUD URL in the DHCP request: nothing to do.
	if out, err := hotplug("02:00:00:00:00:07", ""); err != nil {
		t.Fatalf("no MUD URL: %v\n%s", err, out)
	}

	// By hand: http is refused; approval enforces this exact file.
	bad, err := exec.Command(binary, "mud", "set", "Camera", "http://mfg.example/cam.json", "--config", cfgPath).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(bad), "not an https URL") {
		t.Fatalf("mud set http: %v\n%s", err, bad)
	}
	approved, err := exec.Command(binary, "mud", "approve", "Camera", "--config", cfgPath).CombinedOutput()
	if err != nil || !strings.Contains(string(approved), "(enforced) the MUD file is not signed; enforced because you approved this exact file") {
		t.Fatalf("mud approve: %v\n%s", err, approved)
	}
	if m := device(); m["status"] != "enforced" || !strings.Contains(m["detail"].(string), "no firewall") {
		t.Fatalf("after approval: %v", m)
	}
	// Through rpcd, as LuCI calls it.
	if r := rpcdCall(t, cfgPath, "mud_approve", `{"id":"Camera"}`); !strings.Contains(fmt.Sprint(r["error"]), "no MUD file waiting for approval") {
		t.Fatalf("rpcd mud_approve of an enforced file: %v", r)
	}
}
