package rpcd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/rpcd"
)

func TestList(t *testing.T) {
	var b bytes.Buffer
	if err := rpcd.List(&b); err != nil {
		t.Fatal(err)
	}
	var sigs map[string]map[string]any
	if err := json.Unmarshal(b.Bytes(), &sigs); err != nil {
		t.Fatalf("list is not a JSON object: %v\n%s", err, b.String())
	}
	for _, m := range []string{"status", "devices", "device", "rename", "move", "quarantine", "release", "rotate", "remove", "onboard", "progress", "cancel", "preauth_list", "preauth_add", "preauth_remove", "mud_set", "mud_approve", "phone_start", "phone_revoke"} {
		if _, ok := sigs[m]; !ok {
			t.Errorf("method %s missing from list", m)
		}
	}
	if sigs["onboard"]["uri"] != "" || sigs["device"]["id"] != "" {
		t.Errorf("argument examples must be strings: %v", sigs["onboard"])
	}
}

// serve answers API calls over a UNIX socket with h.
func serve(t *testing.T, h http.Handler) *api.Client {
	path := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return api.NewClient(path)
}

func call(t *testing.T, c *api.Client, method, in string) (map[string]any, bool) {
	var out bytes.Buffer
	ok := rpcd.Call(context.Background(), c, method, strings.NewReader(in), &out)
	var reply map[string]any
	if err := json.Unmarshal(out.Bytes(), &reply); err != nil {
		t.Fatalf("reply is not one JSON object: %v\n%s", err, out.String())
	}
	return reply, ok
}

func TestCallForwardsAndFiltersReplies(t *testing.T) {
	var gotPath, gotBody string
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotPath, gotBody = r.Method+" "+r.URL.Path, string(b)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/devices/d-1":
			// A reply carrying a field the API does not define must not
			// reach LuCI: only the API's own fields pass.
			io.WriteString(w, `{"id":"d-1","name":"Cam","passphrase":"hunter2hunter2","state":"connected"}`)
		case "/v1/onboard":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"the QR code is not a Wi-Fi Easy Connect code"}`)
		}
	}))
	reply, ok := call(t, c, "device", `{"id":"d-1","ubus_rpc_session":"abc"}`)
	if !ok || reply["name"] != "Cam" || gotPath != "GET /v1/devices/d-1" {
		t.Fatalf("device: %v %v (path %q)", reply, ok, gotPath)
	}
	if b, _ := json.Marshal(reply); strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "passphrase") {
		t.Fatalf("an unknown field passed through: %s", b)
	}
	reply, ok = call(t, c, "onboard", `{"method":"qr","uri":"WIFI:x"}`)
	if ok || !strings.Contains(reply["error"].(string), "not a Wi-Fi Easy Connect code") {
		t.Fatalf("onboard error: %v", reply)
	}
	if !strings.Contains(gotBody, `"uri":"WIFI:x"`) {
		t.Fatalf("onboard body %q", gotBody)
	}
	call(t, c, "rename", `{"id":"d-1","name":"Kitchen"}`)
	if gotPath != "PATCH /v1/devices/d-1" || !strings.Contains(gotBody, `"name":"Kitchen"`) {
		t.Fatalf("rename sent %q %q", gotPath, gotBody)
	}
}

func TestCallErrors(t *testing.T) {
	down := api.NewClient(filepath.Join(t.TempDir(), "nothing.sock"))
	tests := []struct{ method, in, want string }{
		{"status", "", "the trustjoin daemon is not running"},
		{"device", "{}", `argument "id" is required`},
		{"device", "[1,2]", "the arguments are not a JSON object"},
		{"frobnicate", "{}", `unknown method "frobnicate"`},
		// Refused before the daemon is asked (it is down here).
		{"device", `{"id":"."}`, `argument "id": "." names nothing`},
		{"remove", `{"id":".."}`, `argument "id": ".." names nothing`},
		{"rename", `{"id":"d-1","name":"cam\nd-2  iot  connected"}`, `argument "name": the name holds a control character (U+000A)`},
		{"rename", `{"id":"d-1"}`, `argument "name" is required`},
		{"preauth_add", `{"uri":"DPP:K:x;;","name":"\u001b[2Jcam"}`, `argument "name": the name holds a control character (U+001B)`},
		{"onboard", `{"method":"pkex","code":"abcdef init=1 tcp_addr=10.99.0.2 tcp_port=80"}`, "the PKEX code holds a space"},
		{"onboard", `{"method":"pkex","code":"abcdef\u0000 init=1"}`, "the PKEX code holds a control character (U+0000)"},
		{"onboard", `{"method":"qr","uri":"DPP:K:x;;","name":"` + strings.Repeat("x", 100) + `"}`, "the name is too long"},
	}
	for _, tt := range tests {
		reply, ok := call(t, down, tt.method, tt.in)
		if ok || !strings.Contains(reply["error"].(string), tt.want) {
			t.Errorf("%s %s: %v, want an error containing %q", tt.method, tt.in, reply, tt.want)
		}
	}
}

// TR-069 agents name a device by its instance number and pass booleans as
// strings: instance 2 is the second device of the list, and quarantined
// "0" releases.
func TestCallByInstance(t *testing.T) {
	var got []string
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "GET /v1/devices":
			io.WriteString(w, `{"devices":[{"id":"d-a","name":"A"},{"id":"d-b","name":"B"}]}`)
		case "GET /v1/preauth":
			io.WriteString(w, `{"entries":[{"id":"p-1"}]}`)
		default:
			got = append(got, r.Method+" "+r.URL.Path)
			io.WriteString(w, `{"id":"x"}`)
		}
	}))
	for _, tt := range []struct{ method, in string }{
		{"quarantine", `{"instance":"2","quarantined":"1"}`},
		{"quarantine", `{"instance":"1","quarantined":"0"}`},
		{"quarantine", `{"id":"d-z","quarantined":"false"}`},
		{"quarantine", `{"id":"d-z"}`},
		{"move", `{"instance":2,"segment":"guest"}`},
		{"preauth_remove", `{"instance":"1"}`},
	} {
		if reply, ok := call(t, c, tt.method, tt.in); !ok {
			t.Fatalf("%s %s: %v", tt.method, tt.in, reply)
		}
	}
	want := []string{"POST /v1/devices/d-b/quarantine", "POST /v1/devices/d-a/release", "POST /v1/devices/d-z/release",
		"POST /v1/devices/d-z/quarantine", "PATCH /v1/devices/d-b", "DELETE /v1/preauth/p-1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, in := range []string{`{"instance":"3"}`, `{"instance":"0"}`, `{"instance":"x"}`} {
		if reply, ok := call(t, c, "release", in); ok || !strings.Contains(reply["error"].(string), "instance") {
			t.Errorf("release %s: %v, want an error about the instance", in, reply)
		}
	}
}

func TestPreauthAddedBy(t *testing.T) {
	var body string
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"p-1"}`)
	}))
	for in, want := range map[string]string{`{"uri":"DPP:x"}`: `"added_by":"user"`, `{"uri":"DPP:x","added_by":"acs"}`: `"added_by":"acs"`} {
		if reply, ok := call(t, c, "preauth_add", in); !ok || !strings.Contains(body, want) {
			t.Errorf("preauth_add %s: %v, sent %s, want %s", in, reply, body, want)
		}
	}
	if reply, ok := call(t, c, "preauth_add", `{"uri":"DPP:x","added_by":"Evil Corp\n"}`); ok || !strings.Contains(reply["error"].(string), "added_by") {
		t.Errorf("a bad added_by was passed on: %v", reply)
	}
}
