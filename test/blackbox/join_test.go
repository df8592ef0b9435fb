package blackbox

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// With the BRSKI join proxy on, the daemon confines its join interfaces
// in trustjoin's table before it says it is ready, with the configured
// ports, and puts the confinement back after an `nft flush ruleset`.
// (What it lets through, packet by packet, is package firewall's test.)
func TestDaemonJoinConfinement(t *testing.T) {
	// join0 gets its link-local address at once (no DAD): the daemon is
	// ready only once the proxies listen there.
	ns, nft := netnsWithNft(t, "tjjn-bb",
		[]string{"ip", "link", "add", "join0", "type", "veth", "peer", "name", "pledge0"},
		[]string{"ip", "link", "set", "join0", "addrgenmode", "none"},
		[]string{"ip", "-6", "addr", "add", "fe80::1/64", "dev", "join0", "nodad"},
		[]string{"ip", "link", "set", "lo", "up"},
		[]string{"ip", "link", "set", "join0", "up"},
		[]string{"ip", "link", "set", "pledge0", "up"})

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n"+
		"\toption hostapd_ctrl_dir '%s/hostapd'\n\toption log_level 'debug'\n"+
		"config wifi 'home'\n\toption ifname 'wlan0'\n"+
		"config brski 'brski'\n\toption enabled '1'\n\tlist interface 'join0'\n\toption port '9443'\n"+
		"\toption stateless '1'\n\toption stateless_port '5694'\n\toption registrar_host '127.0.0.1'\n", dir, dir, dir))

	_, logs := startDaemon(t, []string{"ip", "netns", "exec", ns}, nil, cfgPath)
	logs.waitFor(t, "msg=ready", 1)

	want := []string{"chain join_local", `elements = { "join0" }`, "tcp dport 9443 accept", "udp dport 5694 accept", "udp dport 5683 accept"}
	ruleset := nft("list", "ruleset")
	for _, w := range want {
		if !strings.Contains(ruleset, w) {
			t.Errorf("ready, but the ruleset lacks %s:\n%s", w, ruleset)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	nft("flush", "ruleset")
	waitRuleset(t, nft, "the join confinement back after a flush", func(r string) bool {
		return hasAll(r, "chain join_local", "tcp dport 9443 accept")
	})
}
