package tr069_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/config"
)

// jsonfilter is the part of OpenWrt's jsonfilter the easycwmp script uses
// (-e @.a.b[0].c, [*]), for running the script where OpenWrt's is not. The
// test binary runs it when TJ_TEST_JSONFILTER=1 (see TestMain).
func jsonfilter(args []string, in io.Reader) int {
	var expr string
	for i := 0; i < len(args); i++ {
		if args[i] == "-e" && i+1 < len(args) {
			expr = args[i+1]
		}
	}
	var doc any
	if err := json.NewDecoder(in).Decode(&doc); err != nil || !strings.HasPrefix(expr, "@") {
		return 1
	}
	vals := []any{doc}
	for _, tok := range regexp.MustCompile(`\.[^.\[]+|\[[^\]]*\]`).FindAllString(expr[1:], -1) {
		var next []any
		for _, v := range vals {
			switch {
			case tok == "[*]":
				a, _ := v.([]any)
				next = append(next, a...)
			case strings.HasPrefix(tok, "["):
				a, _ := v.([]any)
				if n, err := strconv.Atoi(tok[1 : len(tok)-1]); err == nil && n >= 0 && n < len(a) {
					next = append(next, a[n])
				}
			default:
				if m, ok := v.(map[string]any); ok {
					if c, ok := m[tok[1:]]; ok {
						next = append(next, c)
					}
				}
			}
		}
		vals = next
	}
	printed := 0
	for _, v := range vals {
		switch v := v.(type) {
		case nil:
			continue
		case string:
			fmt.Println(v)
		case float64:
			fmt.Println(strconv.FormatFloat(v, 'f', -1, 64))
		case bool:
			fmt.Println(v)
		default:
			b, _ := json.Marshal(v)
			fmt.Println(string(b))
		}
		printed++
	}
	if printed == 0 {
		return 1
	}
	return 0
}

// harness drives the generated script as easycwmp's framework would, for
// one get, set, add or delete: $g_mode, $g_target, $g_value. ubus is the
// rpcd plugin, as ubus runs it; jshn is emulated; uci show is canned (the
// UCI side is the CWMP exchange test's).
const harness = `set -u
E_INVALID_PARAMETER_NAME=3 E_INVALID_PARAMETER_VALUE=4 E_NON_WRITABLE_PARAMETER=5 E_INTERNAL_ERROR=6
prefix_list= entry_execute_method_list=
UCI_GET=false UCI_SET=false UCI_DELETE=false UCI_SHOW=uci_show
uci_show() { cat "$TJ_UCI_SHOW"; }
ubus() { [ "$1" = call ] && [ "$2" = trustjoin ] || return 1; printf '%s' "$4" | "$TJ_BIN" rpcd call "$3"; }
json_init() { _j=; }
json_add_string() { _v=$(printf '%s' "$2" | sed 's/\\/\\\\/g; s/"/\\"/g'); _j="$_j${_j:+,}\"$1\":\"$_v\""; }
json_dump() { printf '{%s}\n' "$_j"; }
case_param() { [ -z "$1" ] && return 0; case "$3" in "$1"*) return 0 ;; esac; case "$1" in "$3"*) return 0 ;; esac; return 1; }
common_execute_method_obj() {
	case "$g_mode" in
	add) [ "$1" = "$g_target" ] && { echo "instance=$($3 "$1")"; exit 0; } ;;
	del) [ "$1" = "$g_target" ] && { $4 "$1"; echo "deleted=$?"; exit 0; } ;;
	esac
	[ -z "${5:-}" ] || $5
}
common_execute_method_param() {
	case "$g_mode" in
	get) case "$1" in "$g_target"*) echo "$1=$($3)" ;; esac ;;
	set) [ "$1" = "$g_target" ] && {
		[ "$2" = 1 ] || { echo set=not-writable; exit 0; }
		$4 "$g_value"; echo "set=$?"; exit 0
	} ;;
	esac
}
. "$TJ_SCRIPT"
TJ_PENDING=$TJ_PENDING_DIR
entry_execute_method_trustjoin "$g_target"
echo "status=$?"
`

// The generated easycwmp script, run by sh against the real daemon:
// reads, device moves and quarantine, a pre-authorised device added in
// two writes (Segment, then URI) and deleted.
func TestEasyCWMPScriptRuns(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	d := startDaemon(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "jsonfilter"), []byte("#!/bin/sh\nTJ_TEST_JSONFILTER=1 exec '"+self+"' \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// uci show trustjoin: section lines are all the script reads.
	cfg, _ := os.ReadFile(d.cfgPath)
	sections, err := config.ParseUCI(bytes.NewReader(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var show strings.Builder
	for _, s := range sections {
		fmt.Fprintf(&show, "trustjoin.%s=%s\n", s.Name, s.Type)
	}
	showFile := filepath.Join(bin, "uci-show")
	os.WriteFile(showFile, []byte(show.String()), 0o600)
	script, _ := filepath.Abs(shippedScript)
	root := "Device.X_TRUSTJOIN_TrustJoin."
	run := func(mode, target, value string) map[string]string {
		t.Helper()
		cmd := exec.Command(sh, "-c", harness)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "TJ_BIN="+d.bin, "TJ_SCRIPT="+script,
			"TJ_UCI_SHOW="+showFile, "TJ_PENDING_DIR="+filepath.Join(d.dir, "pending"),
			"TRUSTJOIN_CONFIG="+d.cfgPath, "TRUSTJOIN_LAST_GOOD="+d.lastGood,
			"g_mode="+mode, "g_target="+target, "g_value="+value)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", mode, target, err, out)
		}
		got := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				got[k] = v
			}
		}
		return got
	}
	want := func(got map[string]string, kv ...string) {
		t.Helper()
		for i := 0; i < len(kv); i += 2 {
			if got[kv[i]] != kv[i+1] {
				t.Errorf("%s = %q, want %q", kv[i], got[kv[i]], kv[i+1])
			}
		}
	}

	got := run("get", root, "")
	want(got, root+"Ready", "true", root+"DeviceNumberOfEntries", "2", root+"SegmentNumberOfEntries", "4",
		root+"Segment.2.Name", "iot", root+"Device.1.Name", "Camera", root+"Device.1.Segment", "iot",
		root+"Device.2.ID", "d-plug", root+"PreAuthorizedNumberOfEntries", "0", root+"RadioNumberOfEntries", "0",
		root+"Stats.DevicesQuarantined", "0")
	if got[root+"Version"] == "" {
		t.Errorf("no Version: %v", got)
	}

	want(run("set", root+"Device.1.Segment", "guest"), "set", "0")
	want(run("set", root+"Device.2.Quarantined", "1"), "set", "0")
	want(run("get", root+"Device.", ""), root+"Device.1.Segment", "guest", root+"Device.2.Quarantined", "true",
		root+"Device.2.Segment", "quarantine")
	want(run("set", root+"Device.2.Quarantined", "0"), "set", "0")
	want(run("get", root+"Device.2.", ""), root+"Device.2.Quarantined", "false", root+"Device.2.Segment", "iot")
	want(run("set", root+"Device.1.Segment", "nowhere"), "set", "4")
	want(run("set", root+"Version", "1"), "set", "not-writable")

	// AddObject, then the values in two SetParameterValues.
	want(run("add", root+"PreAuthorized.", ""), "instance", "1")
	want(run("set", root+"PreAuthorized.1.Segment", "guest"), "set", "0")
	want(run("get", root+"PreAuthorizedNumberOfEntries", ""), root+"PreAuthorizedNumberOfEntries", "0")
	want(run("set", root+"PreAuthorized.1.URI", dppURI(t)), "set", "0")
	want(run("get", root+"PreAuthorized.", ""), root+"PreAuthorized.1.Segment", "guest", root+"PreAuthorized.1.URI", "",
		root+"PreAuthorized.1.AddedBy", "acs")
	want(run("get", root+"PreAuthorizedNumberOfEntries", ""), root+"PreAuthorizedNumberOfEntries", "1")
	want(run("set", root+"PreAuthorized.1.URI", "DPP:K:not-a-key;;"), "set", "4")
	want(run("set", root+"Device.1.Name", "x"), "set", "not-writable")
	want(run("del", root+"PreAuthorized.1.", ""), "deleted", "0")
	want(run("get", root+"PreAuthorizedNumberOfEntries", ""), root+"PreAuthorizedNumberOfEntries", "0")
}
