package blackbox

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkResult is the part of `trustjoin mud check --json` the tests read.
type checkResult struct {
	Accepted bool   `json:"accepted"`
	Error    string `json:"error"`
	Size     int    `json:"size"`
	Entries  []struct {
		Path    string            `json:"path"`
		Rules   []json.RawMessage `json:"rules"`
		Ignored string            `json:"ignored"`
	} `json:"entries"`
}

// mudCheck runs the built binary's `mud check`; it returns the exit status
// and the decoded JSON report.
func mudCheck(t *testing.T, env []string, args ...string) (int, checkResult, string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"mud", "check", "--json"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var r checkResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("mud check %v: exit %d, not JSON (%v):\n%s", args, code, err, out)
	}
	return code, r, string(out)
}

// Every file of the shared MUD corpus through the built binary, as a
// householder or a device maker would check one: accepted files exit 0
// with every entry compiled or reported, the others exit 1 with the
// reason, signatures and certificates are named as such.
func TestMUDCheckCorpus(t *testing.T) {
	corpus, err := filepath.Abs("../../../shared/mud-corpus")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(corpus); err != nil {
		t.Fatalf("the MUD corpus is missing (%v): it must be beside the checkout as ../shared/mud-corpus", err)
	}
	noConfig := filepath.Join(t.TempDir(), "none")
	accepted, files := 0, 0
	err = filepath.Walk(corpus, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasSuffix(p, "SOURCES.txt") {
			return err
		}
		files++
		rel, _ := filepath.Rel(corpus, p)
		code, r, out := mudCheck(t, nil, p, "--config", noConfig)
		switch {
		case code == 0 && r.Accepted:
			accepted++
			if len(r.Entries) == 0 {
				t.Errorf("%s: accepted with no entries:\n%s", rel, out)
			}
			for _, e := range r.Entries {
				if (len(e.Rules) > 0) == (e.Ignored != "") {
					t.Errorf("%s: entry %s has %d rules and ignored %q", rel, e.Path, len(e.Rules), e.Ignored)
				}
			}
		case code == 1 && !r.Accepted && r.Error != "":
			switch filepath.Ext(p) {
			case ".p7s":
				if !strings.Contains(r.Error, "this is a signature") {
					t.Errorf("%s: %s", rel, r.Error)
				}
			case ".pem":
				if !strings.Contains(r.Error, "this is a certificate") {
					t.Errorf("%s: %s", rel, r.Error)
				}
			}
		default:
			t.Errorf("%s: exit %d:\n%s", rel, code, out)
		}
		// The text form agrees on the outcome.
		if err := exec.Command(binary, "mud", "check", p, "--config", noConfig).Run(); exitCode(err) != code {
			t.Errorf("%s: text form exits %d, JSON form %d", rel, exitCode(err), code)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 40 || accepted < 25 {
		t.Fatalf("%d files, %d accepted: the corpus is not all there", files, accepted)
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// A URL is fetched as the daemon fetches it: over verified https only,
// never redirected to http, within mud.max_size, and the file must name
// the URL it was fetched from.
func TestMUDCheckURL(t *testing.T) {
	var srv *httptest.Server
	file := func(url, pad string) string {
		return fmt.Sprintf(`{"ietf-mud:mud":{"mud-version":1,"mud-url":"%s","last-update":"2026-01-01T00:00:00Z",
		"is-supported":true,"systeminfo":"%s","from-device-policy":{"access-lists":{"access-list":[{"name":"out"}]}}},
		"ietf-access-control-list:acls":{"acl":[{"name":"out","type":"ipv4-acl-type","aces":{"ace":[
		{"name":"a","matches":{"tcp":{"destination-port":{"port":443}}},"actions":{"forwarding":"accept"}}]}}]}}`, url, pad)
	}
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cam.json":
			fmt.Fprint(w, file(srv.URL+"/cam.json", "camera"))
		case "/big.json":
			fmt.Fprint(w, file(srv.URL+"/big.json", strings.Repeat("x", 2000)))
		case "/moved.json":
			fmt.Fprint(w, file(srv.URL+"/cam.json", "camera"))
		case "/to-http":
			http.Redirect(w, r, strings.Replace(srv.URL, "https:", "http:", 1)+"/cam.json", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfg, "config mud 'mud'\n\toption max_size '1024'\n\toption fetch_timeout '5'\n")
	trust := []string{"SSL_CERT_FILE=" + ca}

	if code, r, out := mudCheck(t, trust, srv.URL+"/cam.json", "--config", cfg); code != 0 || !r.Accepted || len(r.Entries) != 1 {
		t.Errorf("good file: exit %d:\n%s", code, out)
	}
	for _, c := range []struct {
		env        []string
		path, want string
	}{
		{trust, "/big.json", "more than mud.max_size (1024)"},
		{trust, "/moved.json", "the file says its URL is"},
		{trust, "/to-http", "only fetched over https: redirected to http://"},
		{trust, "/missing.json", "server answered 404"},
		{nil, "/cam.json", "certificate"},
	} {
		code, r, out := mudCheck(t, c.env, srv.URL+c.path, "--config", cfg)
		if code != 1 || r.Accepted || !strings.Contains(r.Error, c.want) {
			t.Errorf("%s: exit %d, want 1 and %q:\n%s", c.path, code, c.want, out)
		}
	}
	if code, r, out := mudCheck(t, trust, strings.Replace(srv.URL, "https:", "http:", 1)+"/cam.json", "--config", cfg); code != 1 || !strings.Contains(r.Error, "only fetched over https") {
		t.Errorf("plain http: exit %d:\n%s", code, out)
	}
}
