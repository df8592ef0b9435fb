package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const checkFile = `{"ietf-mud:mud":{"mud-version":1,"mud-url":"https://mfg.example/cam.json","last-update":"2026-01-01T00:00:00Z",
	"cache-validity":24,"is-supported":true,"systeminfo":"camera","mfg-name":"Example",
	"from-device-policy":{"access-lists":{"access-list":[{"name":"out"}]}},
	"to-device-policy":{"access-lists":{"access-list":[{"name":"in"}]}}},
	"ietf-access-control-list:acls":{"acl":[
	{"name":"out","type":"ipv4-acl-type","aces":{"ace":[
		{"name":"cloud","matches":{"ipv4":{"dst-dnsname":"cloud.example.com","protocol":6},"tcp":{"destination-port":{"port":443},"ietf-mud:direction-initiated":"from-device"}},"actions":{"forwarding":"accept"}},
		{"name":"ping","matches":{"icmp":{"type":8,"code":0}},"actions":{"forwarding":"accept"}},
		{"name":"tls","matches":{"ipv4":{"dscp":46},"tcp":{"destination-port":{"port":8883}}},"actions":{"forwarding":"accept"}}]}},
	{"name":"in","type":"ipv4-acl-type","aces":{"ace":[
		{"name":"local","matches":{"ietf-mud:mud":{"local-networks":[null]},"udp":{"destination-port":{"port":5683}}},"actions":{"forwarding":"accept"}}]}}]}}`

func runCheck(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), Env{Args: append([]string{"mud", "check"}, args...), Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func TestMUDCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "cam.json")
	if err := os.WriteFile(good, []byte(checkFile), 0o600); err != nil {
		t.Fatal(err)
	}
	noConfig := filepath.Join(dir, "none")

	code, out, _ := runCheck(t, "", good, "--config", noConfig)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"MUD file of https://mfg.example/cam.json",
		`ace "cloud" of acl "out"`,
		"IPv4 TCP to cloud.example.com port 443; only the device opens connections",
		"IPv4 ICMP type 8 (echo request) code 0 to anywhere",
		"IGNORED: grants nothing: matches/ipv4/dscp not implemented",
		"to-device policy:",
		"IPv4 UDP from the local networks to the device's port 5683",
		"ACCEPTED: 4 entries: 3 rules, 1 entry ignored; 0 warnings",
		"mud.max_size 262144",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// JSON: every entry with its rules or why it has none; standard input.
	code, out, _ = runCheck(t, checkFile, "-", "--json", "--config", noConfig)
	var rep checkReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.Accepted || len(rep.Entries) != 4 {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	ping := rep.Entries[1].Rules[0]
	if ping.Protocol != 1 || ping.ICMPType == nil || *ping.ICMPType != 8 || *ping.ICMPCode != 0 {
		t.Errorf("ping rule %+v", ping)
	}
	if rep.Entries[2].Ignored == "" || len(rep.Entries[2].Rules) != 0 {
		t.Errorf("ignored entry %+v", rep.Entries[2])
	}

	// --nft: each rule's nftables rules, and the ruleset nft -f loads.
	code, out, _ = runCheck(t, "", good, "--nft", "--config", noConfig)
	for _, want := range []string{
		"      nft: inet from device: meta nfproto ipv4 meta l4proto tcp ip daddr @",
		"      nft: inet to router: meta nfproto ipv4 meta l4proto icmp icmp type 8 icmp code 0 return\n",
		"      nft: bridge to device: meta protocol ip meta l4proto udp th dport 5683 return\n",
		"ACCEPTED: 4 entries",
		"\ntable inet trustjoin {\n",
		"\ttable bridge trustjoin {"[1:],
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("--nft: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	code, out, _ = runCheck(t, "", good, "--nft", "--json", "--config", noConfig)
	rep = checkReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !strings.HasPrefix(rep.Ruleset, "# trustjoin's nftables tables") ||
		len(rep.Entries[0].Rules[0].NFT) != 1 || len(rep.Entries[3].Rules[0].NFT) != 2 {
		t.Errorf("--nft --json: exit %d, %v:\n%s", code, err, out)
	}

	// Over the configured mud.max_size: rejected, with what it would be.
	small := filepath.Join(dir, "trustjoin")
	if err := os.WriteFile(small, []byte("config mud 'mud'\n\toption max_size '1024'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCheck(t, "", good, "--config", small)
	if code != 1 || !strings.Contains(out, "REJECTED: the file is") || !strings.Contains(out, "more than mud.max_size (1024)") || !strings.Contains(out, `ace "cloud"`) {
		t.Errorf("exit %d:\n%s", code, out)
	}

	// Rejected files and refused sources: 1.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(strings.Replace(checkFile, `"forwarding":"accept"}}]}}]}}`, `"forwarding":"accept","forwarding":"drop"}}]}}]}}`, 1)), 0o600)
	for _, args := range [][]string{{bad}, {"http://mfg.example/cam.json"}} {
		code, out, _ = runCheck(t, "", append(args, "--config", noConfig)...)
		if code != 1 || !strings.Contains(out, "REJECTED: ") {
			t.Errorf("%v: exit %d:\n%s", args, code, out)
		}
	}
	code, out, _ = runCheck(t, "", bad, "--json", "--config", noConfig)
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Accepted || !strings.Contains(rep.Error, "given twice") {
		t.Errorf("exit %d, %v:\n%s", code, err, out)
	}

	// Usage: 2.
	for _, args := range [][]string{{}, {good, good}, {"--nope", good}, {filepath.Join(dir, "missing.json")}} {
		if code, _, _ := runCheck(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// The worked example in the README is what the command prints.
func TestMUDCheckREADME(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "$ trustjoin mud check camera.json\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("the README has no mud check example")
	}
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	if err := os.Chdir("testdata"); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCheck(t, "", "camera.json", "--config", "none")
	if code != 0 || out != block {
		t.Errorf("exit %d; the README says:\n%s\nthe command prints:\n%s", code, block, out)
	}
}
