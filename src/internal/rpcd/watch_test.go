package rpcd_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestWatchMethods(t *testing.T) {
	var got []string
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.RequestURI())
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/devices/d-1/behaviour":
			io.WriteString(w, `{"dropped":7,"opened":2,"entries":[`+
				`{"verdict":"dropped","proto":6,"address":"203.0.113.9","port":23,"count":5},`+
				`{"verdict":"opened","proto":17,"address":"192.0.2.1","port":123,"name":"time.example","count":2},`+
				`{"verdict":"dropped","proto":17,"address":"2001:db8::1","port":53,"count":2}]}`)
		case "/v1/unknown":
			io.WriteString(w, `{"unknown":[{"mac":"02:00:00:00:00:77","kind":"wired","addresses":["192.168.1.77","fd00::77"]}],"handled":[]}`)
		case "/v1/events":
			io.WriteString(w, `{"events":[{"seq":42,"kind":"unknown-device","message":"m","secret":"x"}],"counts":{"total":42}}`)
		default:
			io.WriteString(w, `{}`)
		}
	}))
	for _, in := range []string{`{"since":41}`, `{"since":"41"}`} {
		status, reply, _ := call(t, c, "events", in)
		ok := status == statusOK
		evs, _ := reply["events"].([]any)
		if !ok || len(evs) != 1 || strings.Contains(strings.Join(got, " "), "since=0") {
			t.Fatalf("events %s: %v %v, asked %q", in, reply, ok, got)
		}
		if e := evs[0].(map[string]any); e["secret"] != nil {
			t.Fatalf("a field the API does not define passed: %v", e)
		}
	}
	for _, bad := range []string{`{"since":-1}`, `{"since":1.5}`, `{"since":"yesterday"}`} {
		if status, _, out := call(t, c, "events", bad); status != statusInvalidArgument || !strings.Contains(out, `argument \"since\" must be an event number`) {
			t.Errorf("events %s: status %d, %s, want refused", bad, status, out)
		}
	}
	got = nil
	call(t, c, "unknown", `{}`)
	call(t, c, "behaviour", `{"id":"d-1"}`)
	call(t, c, "mud_learn", `{"id":"d-1"}`)
	call(t, c, "mud_learn_approve", `{"id":"d-1"}`)
	call(t, c, "unknown_handle", `{"mac":"02:00:00:00:00:99","action":"block"}`)
	call(t, c, "mud_show", `{"id":"d-1"}`)
	want := "GET /v1/unknown GET /v1/devices/d-1/behaviour GET /v1/devices/d-1/learned POST /v1/devices/d-1/learned/approve POST /v1/unknown/02:00:00:00:00:99 GET /v1/devices/d-1/enforced"
	if strings.Join(got, " ") != want {
		t.Fatalf("asked %q, want %q", strings.Join(got, " "), want)
	}
}

// The behaviour and the unknown devices carry their lists also as
// strings, newest first, for TR-181 (bbfdm reads an array as its length).
func TestWatchLists(t *testing.T) {
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/devices/d-1/behaviour":
			io.WriteString(w, `{"dropped":7,"opened":2,"entries":[`+
				`{"verdict":"dropped","proto":6,"address":"203.0.113.9","port":23,"count":5},`+
				`{"verdict":"opened","proto":17,"address":"192.0.2.1","port":123,"name":"time.example","count":2},`+
				`{"verdict":"inbound","proto":6,"address":"192.168.1.5","port":80,"count":1},`+
				`{"verdict":"dropped","proto":17,"address":"2001:db8::1","port":53,"count":2}]}`)
		case "/v1/unknown":
			io.WriteString(w, `{"unknown":[{"mac":"02:00:00:00:00:77","kind":"wired","addresses":["192.168.1.77","fd00::77"]}],"handled":[{"mac":"02:00:00:00:00:99","action":"block"}]}`)
		}
	}))
	_, b, _ := call(t, c, "behaviour", `{"id":"d-1"}`)
	if b["dropped_to"] != "203.0.113.9:23/tcp,[2001:db8::1]:53/udp" || b["opened_to"] != "time.example:123/udp" || b["dropped"] != float64(7) {
		t.Errorf("behaviour: %v", b)
	}
	if es, _ := b["entries"].([]any); len(es) != 4 {
		t.Errorf("behaviour entries: %v", b["entries"])
	}
	_, u, _ := call(t, c, "unknown", `{}`)
	us, _ := u["unknown"].([]any)
	if len(us) != 1 || us[0].(map[string]any)["address_list"] != "192.168.1.77,fd00::77" || us[0].(map[string]any)["kind"] != "wired" {
		t.Errorf("unknown: %v", u)
	}
	if hs, _ := u["handled"].([]any); len(hs) != 1 {
		t.Errorf("unknown handled: %v", u)
	}
}
