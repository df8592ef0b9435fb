package rpcd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// ubus status codes rpcd answers an exec plugin's call with.
const (
	statusOK              = 0
	statusInvalidArgument = 2
	statusNoData          = 5
)

// asRPCD reads a plugin's output as rpcd does (plugin.c,
// rpc_plugin_call_finish_cb): one JSON object is the reply with status 0;
// JSON that is not an object gives UBUS_STATUS_INVALID_ARGUMENT, nothing
// UBUS_STATUS_NO_DATA, and either way no data. json-c reads the first
// value, so this does too.
func asRPCD(t *testing.T, out []byte) (int, map[string]any) {
	t.Helper()
	if len(bytes.TrimSpace(out)) == 0 {
		return statusNoData, nil
	}
	var v any
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&v); err != nil {
		return statusInvalidArgument, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return statusInvalidArgument, nil
	}
	return statusOK, m
}

// call makes one call as rpcd would for a caller on the bus (a TR-069
// agent, `ubus call`): the ubus status and reply, and the plugin's output.
func call(t *testing.T, c *api.Client, method, in string) (int, map[string]any, string) {
	t.Helper()
	var out bytes.Buffer
	err := rpcd.Call(context.Background(), c, method, strings.NewReader(in), &out)
	status, reply := asRPCD(t, out.Bytes())
	if (err == nil) != (status == statusOK) {
		t.Fatalf("%s %s: error %v, but rpcd answers status %d (output %q)", method, in, err, status, out.String())
	}
	return status, reply, out.String()
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
	status, reply, _ := call(t, c, "device", `{"id":"d-1","ubus_rpc_session":"abc"}`)
	if status != statusOK || reply["name"] != "Cam" || gotPath != "GET /v1/devices/d-1" {
		t.Fatalf("device: %d %v (path %q)", status, reply, gotPath)
	}
	if b, _ := json.Marshal(reply); strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "passphrase") {
		t.Fatalf("an unknown field passed through: %s", b)
	}
	call(t, c, "rename", `{"id":"d-1","name":"Kitchen"}`)
	if gotPath != "PATCH /v1/devices/d-1" || !strings.Contains(gotBody, `"name":"Kitchen"`) {
		t.Fatalf("rename sent %q %q", gotPath, gotBody)
	}
	status, _, out := call(t, c, "onboard", `{"method":"qr","uri":"WIFI:x"}`)
	if status != statusInvalidArgument || !strings.Contains(out, "not a Wi-Fi Easy Connect code") {
		t.Fatalf("onboard refused: status %d, output %q", status, out)
	}
	if !strings.Contains(gotBody, `"uri":"WIFI:x"`) {
		t.Fatalf("onboard body %q", gotBody)
	}
}

// A refused call reaches a caller on the bus (bbfdm, easycwmp, `ubus
// call`) as ubus status 2 (UBUS_STATUS_INVALID_ARGUMENT: the agents' fault
// 9007), one that failed inside the router as status 5
// (UBUS_STATUS_NO_DATA: 9002), never as a reply; a caller through uhttpd
// (LuCI, whose calls carry ubus_rpc_session) gets status 0 and the message,
// which it could not read from a status.
func TestCallFailures(t *testing.T) {
	down := api.NewClient(filepath.Join(t.TempDir(), "nothing.sock"))
	failing := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/devices/d-gone/release":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"no device \"d-gone\""}`)
		case "/v1/devices/d-1":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"no segment \"nosuch\""}`)
		default:
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":"failed to save the registry"}`)
		}
	}))
	tests := []struct {
		c          *api.Client
		method, in string
		status     int
		want       string
	}{
		{down, "status", "", statusNoData, "the trustjoin daemon is not running"},
		{failing, "status", "{}", statusNoData, "failed to save the registry"},
		{failing, "move", `{"id":"d-1","segment":"nosuch"}`, statusInvalidArgument, `no segment "nosuch"`},
		{failing, "release", `{"id":"d-gone"}`, statusInvalidArgument, `no device "d-gone"`},
		{down, "device", "{}", statusInvalidArgument, `argument "id" is required`},
		{down, "device", "[1,2]", statusInvalidArgument, "the arguments are not a JSON object"},
		{down, "frobnicate", "{}", statusInvalidArgument, `unknown method "frobnicate"`},
		// Refused before the daemon is asked (it is down here).
		{down, "device", `{"id":"."}`, statusInvalidArgument, `argument "id": "." names nothing`},
		{down, "remove", `{"id":".."}`, statusInvalidArgument, `argument "id": ".." names nothing`},
		{down, "rename", `{"id":"d-1","name":"cam\nd-2  iot  connected"}`, statusInvalidArgument, `argument "name": the name holds a control character (U+000A)`},
		{down, "rename", `{"id":"d-1"}`, statusInvalidArgument, `argument "name" is required`},
		{down, "preauth_add", `{"uri":"DPP:K:x;;","name":"\u001b[2Jcam"}`, statusInvalidArgument, `argument "name": the name holds a control character (U+001B)`},
		{down, "onboard", `{"method":"pkex","code":"abcdef init=1 tcp_addr=10.99.0.2 tcp_port=80"}`, statusInvalidArgument, "the PKEX code holds a space"},
		{down, "onboard", `{"method":"pkex","code":"abcdef\u0000 init=1"}`, statusInvalidArgument, "the PKEX code holds a control character (U+0000)"},
		{down, "onboard", `{"method":"qr","uri":"DPP:K:x;;","name":"` + strings.Repeat("x", 100) + `"}`, statusInvalidArgument, "the name is too long"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := rpcd.Call(context.Background(), tt.c, tt.method, strings.NewReader(tt.in), &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %s: error %v, want one containing %q", tt.method, tt.in, err, tt.want)
		}
		if status, reply := asRPCD(t, out.Bytes()); status != tt.status || reply != nil {
			t.Errorf("%s %s: rpcd answers status %d with %v (output %q), want status %d and no reply", tt.method, tt.in, status, reply, out.String(), tt.status)
		}
		var said string
		json.Unmarshal(out.Bytes(), &said)
		if tt.status == statusInvalidArgument && !strings.Contains(said, tt.want) {
			t.Errorf("%s %s: the refusal %q does not say why (for `ubus call` by hand)", tt.method, tt.in, out.String())
		}
		// The same call through uhttpd: a reply LuCI reads the message from.
		in := `{"ubus_rpc_session":"0123"}`
		if tt.in != "" && tt.in != "{}" && strings.HasPrefix(tt.in, "{") {
			in = strings.Replace(tt.in, "{", `{"ubus_rpc_session":"0123",`, 1)
		}
		out.Reset()
		rpcd.Call(context.Background(), tt.c, tt.method, strings.NewReader(in), &out)
		if status, reply := asRPCD(t, out.Bytes()); tt.in != "[1,2]" && (status != statusOK || len(reply) != 1 || !strings.Contains(fmt.Sprint(reply["error"]), tt.want)) {
			t.Errorf("%s %s through uhttpd: status %d, %v; want status 0 and the error", tt.method, in, status, reply)
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
		if status, reply, out := call(t, c, tt.method, tt.in); status != statusOK {
			t.Fatalf("%s %s: %d %v %s", tt.method, tt.in, status, reply, out)
		}
	}
	want := []string{"POST /v1/devices/d-b/quarantine", "POST /v1/devices/d-a/release", "POST /v1/devices/d-z/release",
		"POST /v1/devices/d-z/quarantine", "PATCH /v1/devices/d-b", "DELETE /v1/preauth/p-1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, in := range []string{`{"instance":"3"}`, `{"instance":"0"}`, `{"instance":"x"}`} {
		if status, _, out := call(t, c, "release", in); status != statusInvalidArgument || !strings.Contains(out, "instance") {
			t.Errorf("release %s: status %d %q, want a refusal about the instance", in, status, out)
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
		if status, reply, _ := call(t, c, "preauth_add", in); status != statusOK || !strings.Contains(body, want) {
			t.Errorf("preauth_add %s: %d %v, sent %s, want %s", in, status, reply, body, want)
		}
	}
	if status, _, out := call(t, c, "preauth_add", `{"uri":"DPP:x","added_by":"Evil Corp\n"}`); status != statusInvalidArgument || !strings.Contains(out, "added_by") {
		t.Errorf("a bad added_by was passed on: %d %q", status, out)
	}
}
