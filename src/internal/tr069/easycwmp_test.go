package tr069_test

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/tr069"
)

const shippedScript = "../../../files/usr/share/easycwmp/functions/trustjoin"

// The script in files/ is what the generator makes from Model().
func TestShippedEasyCWMPIsGenerated(t *testing.T) {
	want, err := tr069.EasyCWMP("TRUSTJOIN")
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
	paramLine = regexp.MustCompile(`common_execute_method_param "([^"]+)" "([01])" "([^"]*)" "([^"]*)" "xsd:(\w+)"`)
	objLine   = regexp.MustCompile(`common_execute_method_obj "([^"]+)" "([01])"`)
	pathVars  = strings.NewReplacer("${TJ_ROOT}", "", "$2.", "{i}.")
)

// Every parameter and object of Model() is in the script with its access,
// and every uci option and ubus method (and argument) it uses exists.
func TestEasyCWMPMappings(t *testing.T) {
	b, err := tr069.EasyCWMP("TRUSTJOIN")
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
			path := strings.Replace(pathVars.Replace(m[1]), "$p", prefix, 1)
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
	// The pending PreAuthorized instance is added with every AddArg.
	if !strings.Contains(script, `tj_ubus preauth_add "$(tj_args added_by acs uri `) || !strings.Contains(script, ` segment "$(cat "$TJ_PENDING/segment"`) {
		t.Error("the pending instance is not sent to preauth_add with its uri and segment")
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
	case "tj_get", "tj_count", "tj_element", "tj_keys", "tj_indexes":
		checkArgs(t, where, arg(0))
	case "tj_set":
		checkArgs(t, where, arg(0), "id", arg(2))
	case "tj_delete":
		checkArgs(t, where, arg(0), "id")
	case "tj_pending_set_preauthorized":
		checkArgs(t, where, "preauth_add", arg(1))
	case "tj_count_sections":
		if !uciKnown(sections, "", "", typ) {
			t.Errorf("%s: no sections", where)
		}
	case "tj_echo", "tj_empty":
	default:
		t.Errorf("%s: unknown helper %s", where, m[1])
	}
	if set && !strings.Contains("tj_uci_set tj_set tj_pending_set_preauthorized", m[1]) {
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
