package tr069_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/tr069"
)

const shippedScript = "../../../files/usr/share/easycwmp/functions/trustjoin"

// The script in files/ is what the generator makes from Model().
func TestShippedEasyCWMPIsGenerated(t *testing.T) {
	want, err := tr069.EasyCWMP(tr069.Template)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(shippedScript)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("files/usr/share/easycwmp/functions/trustjoin is stale: go run ./src/internal/tr069/gen -easycwmp -o files/usr/share/easycwmp/functions/trustjoin")
	}
	if sh, err := exec.LookPath("sh"); err == nil {
		if out, err := exec.Command(sh, "-n", shippedScript).CombinedOutput(); err != nil {
			t.Fatalf("sh -n: %v\n%s", err, out)
		}
	}
}

var (
	paramLine = regexp.MustCompile(`tj_param "([^"]+)" "([01])" "([^"]*)" "([^"]*)" "xsd:(\w+)"`)
	objLine   = regexp.MustCompile(`common_execute_method_obj "([^"]+)" "([01])"`)
	pathVars  = strings.NewReplacer("${TJ_ROOT}", "", "$2.", "{i}.")
)

// Every parameter and object of Model() is in the script with its access,
// and every uci option and ubus method (and argument) it uses exists.
func TestEasyCWMPMappings(t *testing.T) {
	b, err := tr069.EasyCWMP(tr069.Template)
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	cfg, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	sections, err := config.ParseUCI(bytes.NewReader(cfg))
	if err != nil {
		t.Fatal(err)
	}
	// Table entries define p="${TJ_ROOT}<Table>.$2."; resolve "${p}".
	tableOf := regexp.MustCompile(`(?m)^tj_entry_\w+\(\) \{\n\tlocal p="\$\{TJ_ROOT\}([\w.]+)\$2\."`)
	// A table's instances ($3 in its calls) are sections of its UCI type.
	uciType := map[string]string{}
	for _, o := range tr069.Model() {
		uciType[o.Path] = o.UCIType
	}
	params, objects := map[string]string{}, map[string]string{}
	for _, fn := range strings.Split(script, "\n}\n") {
		prefix := ""
		if m := tableOf.FindStringSubmatch(fn + "\n}\n"); m != nil {
			prefix = m[1] + "{i}."
		}
		for _, m := range paramLine.FindAllStringSubmatch(fn, -1) {
			path := pathVars.Replace(strings.Replace(m[1], "${p}", prefix, 1))
			params[path] = m[2] + " " + m[5]
			checkShellCalls(t, path, m[3], sections, uciType[prefix], false)
			checkShellCalls(t, path, m[4], sections, uciType[prefix], true)
		}
		for _, m := range objLine.FindAllStringSubmatch(fn, -1) {
			path := pathVars.Replace(m[1])
			path = strings.Replace(strings.Replace(path, "${p}", prefix, 1), "$p", prefix, 1)
			objects[path] = m[2]
		}
	}
	for _, o := range tr069.Model() {
		tbl := strings.TrimSuffix(o.Path, "{i}.")
		if _, ok := objects[o.Path]; !ok {
			t.Errorf("object %s is not in the script", o.Path)
		}
		if tbl != o.Path {
			access := "0"
			if o.Access {
				access = "1"
			}
			if objects[tbl] != access {
				t.Errorf("table %s: access %q in the script, want %q", tbl, objects[tbl], access)
			}
		}
		for _, p := range o.Params {
			want := "0 " + p.Type
			if p.Write {
				want = "1 " + p.Type
			}
			if got := params[o.Path+p.Name]; got != want {
				t.Errorf("%s%s: %q in the script, want %q", o.Path, p.Name, got, want)
			}
			delete(params, o.Path+p.Name)
		}
	}
	for p := range params {
		t.Errorf("the script has %s, which the model does not", p)
	}
}

var shellCall = regexp.MustCompile(`^(tj_\w+)((?: \S+)*)$`)

// checkShellCalls checks one get or set command of the script.
func checkShellCalls(t *testing.T, where, cmd string, sections []config.Section, typ string, set bool) {
	t.Helper()
	if cmd == "" {
		return
	}
	m := shellCall.FindStringSubmatch(cmd)
	if m == nil {
		t.Errorf("%s: command %q is not a helper call", where, cmd)
		return
	}
	args := strings.Fields(m[2])
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch m[1] {
	case "tj_uci_get", "tj_uci_set":
		sec, opt := arg(0), arg(1)
		if !uciKnown(sections, sec, opt, typ) {
			t.Errorf("%s: %s uses trustjoin.%s.%s, which the shipped config does not have", where, m[1], sec, opt)
		}
	case "tj_get", "tj_count", "tj_element", "tj_keys":
		checkArgs(t, where, arg(0))
	case "tj_get_about":
		checkArgs(t, where, arg(0), arg(1))
	case "tj_set":
		checkArgs(t, where, arg(0), "id", arg(2))
	case "tj_count_sections":
		if !uciKnown(sections, "", "", typ) {
			t.Errorf("%s: no sections", where)
		}
	case "tj_echo", "tj_alias_get", "tj_alias_set", "tj_uci_rename":
	default:
		t.Errorf("%s: unknown helper %s", where, m[1])
	}
	if set && !strings.Contains("tj_uci_set tj_set tj_alias_set tj_uci_rename", m[1]) {
		t.Errorf("%s: %s does not write", where, m[1])
	}
}

// uciKnown reports whether the shipped config has sec.opt ("$3": in some
// section of instType, a table's instance) or, as lists may be empty and
// tables have no instance there, whether trustjoin's parser knows it.
func uciKnown(ss []config.Section, sec, opt, instType string) bool {
	if sec == "" {
		return len(ss) > 0
	}
	typ := ""
	if sec == "$3" {
		// A table's instance: the shipped config may have none of its
		// type (controllers), so the probe below decides.
		typ = instType
	}
	for _, s := range ss {
		if s.Name != sec && (sec != "$3" || s.Type != instType) {
			continue
		}
		typ = s.Type
		for _, o := range s.Options {
			if o.Name == opt {
				return true
			}
		}
	}
	if typ == "" {
		return false
	}
	if sec == "$3" {
		sec = ""
	}
	return knownOption(typ, sec, opt, true)
}

// busybox is OpenWrt's shell and tools (ash, awk, grep, od, sed): the
// script's helpers run under it here as they do under easycwmp.
func busybox(t *testing.T) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("no busybox (Debian: busybox-static, installed by .ci/install-deps.sh)")
	}
	return bb
}

// ash runs script after sourcing the generated function script, in
// busybox ash with busybox's tools first on PATH.
func ash(t *testing.T, dir, script string, env ...string) string {
	t.Helper()
	bb := busybox(t)
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"awk", "grep", "od", "sed", "tr", "wc", "sort", "cat", "mkdir", "touch", "mv", "rm", "printf"} {
		os.Symlink(bb, filepath.Join(bin, tool))
	}
	src, _ := filepath.Abs(shippedScript)
	cmd := exec.Command(bb, "ash", "-c", `E_INVALID_PARAMETER_VALUE=7 E_INTERNAL_ERROR=2; . "$TJ_SCRIPT"; `+script)
	cmd.Env = append([]string{"PATH=" + bin, "TJ_SCRIPT=" + src, "TJ_MAP=" + filepath.Join(dir, "map"), "TJ_RUN=" + filepath.Join(dir, "run")}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ash: %v\n%s", err, out)
	}
	return string(out)
}

var checkLine = regexp.MustCompile(`tj_param "\$\{(?:TJ_ROOT|p)\}([\w.]+)" "1" "[^"]*" "[^"]*" "xsd:\w+" ("(?:[^"\\]|\\.)*")`)

// The checks the script makes of a written value agree with the model's
// constraints (as Go reads them) on every sample value: busybox's grep -E
// and Go's POSIX regexps read the patterns alike.
func TestEasyCWMPChecks(t *testing.T) {
	dir := t.TempDir()
	b, _ := os.ReadFile(shippedScript)
	// By path: "Segment.{i}.VLAN"; a table entry's lines are "${p}VLAN".
	tableOf := regexp.MustCompile(`(?m)^tj_entry_\w+\(\) \{\n\tlocal p="\$\{TJ_ROOT\}([\w.]+)\$2\."`)
	checks := map[string]string{}
	for _, fn := range strings.Split(string(b), "\n}\n") {
		prefix := ""
		if m := tableOf.FindStringSubmatch(fn + "\n}\n"); m != nil {
			prefix = m[1] + "{i}."
		}
		for _, m := range checkLine.FindAllStringSubmatch(fn, -1) {
			c, err := strconv.Unquote(m[2])
			if err != nil {
				t.Fatal(err)
			}
			checks[prefix+m[1]] = c
		}
	}
	samples := sampleValues(t)
	type tc struct {
		param string
		p     tr069.Param
		value string
	}
	var cases []tc
	for _, o := range tr069.Model() {
		for _, p := range o.Params {
			if !p.Write {
				continue
			}
			c, ok := checks[o.Path+p.Name]
			if !ok {
				t.Errorf("%s%s: no check in the script", o.Path, p.Name)
				continue
			}
			vals := append(samples[p.Name], "a\nb", "$(touch pwned)", "`id`", `a"b`, `x\y`)
			for _, v := range vals {
				i := len(cases)
				cases = append(cases, tc{o.Path + p.Name, p, v})
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.check", i)), []byte(c), 0o600)
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.value", i)), []byte(v), 0o600)
			}
		}
	}
	out := ash(t, dir, fmt.Sprintf(`i=0; while [ $i -lt %d ]; do
		c=$(cat "$D/$i.check"); v=$(cat "$D/$i.value"; printf x); v=${v%%x}
		if eval "$c \"\$v\""; then echo "$i 1"; else echo "$i 0"; fi
		i=$((i + 1))
	done`, len(cases)), "D="+dir)
	got := strings.Fields(out)
	if len(got) != 2*len(cases) {
		t.Fatalf("%d results for %d cases:\n%s", len(got)/2, len(cases), out)
	}
	for i, c := range cases {
		if want := accepts(c.p, c.value) && !strings.ContainsAny(c.value, "\n"); (got[2*i+1] == "1") != want {
			t.Errorf("%s = %q: the script's check says %s, the model %v", c.param, c.value, got[2*i+1], want)
		}
	}
	if _, err := os.Stat("pwned"); err == nil {
		os.Remove("pwned")
		t.Fatal("a checked value was run as a command")
	}
}

// Values go through easycwmp's staging hex-encoded: whatever the ACS
// sends comes out as it was, $, quotes and backslashes included.
func TestEasyCWMPHexRoundTrip(t *testing.T) {
	dir := t.TempDir()
	vals := []string{"", "plain", "$(touch pwned) `id` $HOME", `a"b'c\d\\e`, "100%s%d%%", "<delim>x<delim>", "DPP:I:Ünïcødé;K:abc=;;", "tab\there"}
	for i, v := range vals {
		os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), []byte(v), 0o600)
	}
	out := ash(t, dir, fmt.Sprintf(`i=0; while [ $i -lt %d ]; do
		v=$(cat "$D/$i"; printf x); v=${v%%x}
		line="set<delim>tj_unhex $(tj_hex "$v")<delim>get"
		cmd=${line#*<delim>}; cmd=${cmd%%<delim>*}
		eval "$cmd" > "$D/$i.out"
		i=$((i + 1))
	done`, len(vals)), "D="+dir)
	if out != "" {
		t.Fatalf("ash said %q", out)
	}
	for i, v := range vals {
		got, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.out", i)))
		if string(got) != v {
			t.Errorf("%q came out as %q", v, got)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("a value was run as a command")
	}
}

// Instance numbers stay with their instance while it exists, whatever
// comes and goes before it; a new one gets a number never given before;
// a rename keeps number and Alias; Aliases are unique in their table.
func TestEasyCWMPInstances(t *testing.T) {
	dir := t.TempDir()
	run := func(script string) string { return strings.TrimSpace(ash(t, dir, script)) }
	if got := run(`tj_instances segment trusted iot guest | tr '\n' ' '`); got != "1 trusted 2 iot 3 guest" {
		t.Fatalf("first browse: %q", got)
	}
	if got := run(`tj_instances segment trusted guest cams | tr '\n' ' '`); got != "1 trusted 3 guest 4 cams" {
		t.Fatalf("iot gone, cams new: %q", got)
	}
	if got := run(`tj_instances segment trusted guest cams iot | tr '\n' ' '`); got != "1 trusted 3 guest 4 cams 5 iot" {
		t.Fatalf("iot back: %q", got)
	}
	if got := run(`tj_instances device d-b d-a | tr '\n' ' '`); got != "1 d-b 2 d-a" {
		t.Fatalf("another table: %q", got)
	}
	if got := run(`tj_map_next segment; tj_map_rekey segment cams cameras; tj_instances segment trusted guest cameras iot | tr '\n' ' '; tj_alias_get segment cameras`); got != "6\n1 trusted 3 guest 4 cameras 5 iot cpe-4" {
		t.Fatalf("after a rename: %q", got)
	}
	if got := run(`tj_alias_set segment cameras "$(tj_hex cams)"; echo $?; tj_alias_set segment guest "$(tj_hex cams)"; echo $?; tj_alias_get segment cameras; tj_alias_get segment guest`); got != "0\n7\ncams\ncpe-3" {
		t.Fatalf("aliases: %q", got)
	}
}
