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
	want := "GET /v1/unknown GET /v1/devices/d-1/behaviour GET /v1/devices/d-1/learned POST /v1/devices/d-1/learned/approve POST /v1/unknown/02:00:00:00:00:99"
	if strings.Join(got, " ") != want {
		t.Fatalf("asked %q, want %q", strings.Join(got, " "), want)
	}
}
