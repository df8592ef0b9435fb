package api_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/api"
)

// recorder counts what reaches the service.
type recorder struct {
	service
	mu    sync.Mutex
	calls []string
}

func (r *recorder) note(s string) {
	r.mu.Lock()
	r.calls = append(r.calls, s)
	r.mu.Unlock()
}

func (r *recorder) Onboard(_ context.Context, o api.OnboardRequest) (api.Progress, error) {
	r.note("onboard " + o.Name)
	return api.Progress{ID: "o-1"}, nil
}

func (r *recorder) UpdateDevice(_ context.Context, id string, u api.DeviceUpdate) (api.Device, error) {
	r.note("update " + u.Name)
	return api.Device{ID: id, Name: u.Name}, nil
}

func (r *recorder) PreauthAdd(_ context.Context, e api.PreauthRequest) (api.PreauthEntry, error) {
	r.note("preauth " + e.Name)
	return api.PreauthEntry{ID: "p-1", Name: e.Name}, nil
}

func (r *recorder) PreauthBulk(_ context.Context, es []api.PreauthRequest) (api.BulkResult, error) {
	res := api.BulkResult{Errors: []api.BulkError{}}
	for i, e := range es {
		r.note("bulk " + e.Name)
		if e.URI == "bad" {
			res.Errors = append(res.Errors, api.BulkError{Index: i, Error: "bad URI"})
			continue
		}
		res.Added++
	}
	return res, nil
}

// Names and PKEX values are checked by the API itself, whoever calls it:
// a bad one never reaches the daemon's service.
func TestRefusedBeforeTheService(t *testing.T) {
	s := &recorder{}
	c, _ := start(t, s)
	ctx := context.Background()
	long := strings.Repeat("n", 100<<10)
	for _, tc := range []struct {
		method, path string
		body         any
		want         string
	}{
		{"POST", "/v1/onboard", api.OnboardRequest{Method: "pkex", Code: "abcdef init=1 tcp_addr=10.99.0.2 tcp_port=80"}, "the PKEX code holds a space"},
		{"POST", "/v1/onboard", api.OnboardRequest{Method: "pkex", Code: "abcdef\x00init=1"}, "control character (U+0000)"},
		{"POST", "/v1/onboard", api.OnboardRequest{Method: "pkex", Code: "abcdef", Identifier: "a init=1"}, "identifier holds a space"},
		{"POST", "/v1/onboard", api.OnboardRequest{Method: "qr", URI: "DPP:K:x;;", Name: "cam\nd-9  iot  connected"}, "control character (U+000A)"},
		{"POST", "/v1/onboard", api.OnboardRequest{Method: "qr", URI: "DPP:K:x;;", Name: long}, "too long"},
		{"PATCH", "/v1/devices/d-1", api.DeviceUpdate{Name: "\x1b]0;pwned\x07cam"}, "control character (U+001B)"},
		{"PATCH", "/v1/devices/d-1", api.DeviceUpdate{Name: long}, "too long"},
		{"POST", "/v1/preauth", api.PreauthRequest{URI: "DPP:K:x;;", Name: "cam\u202e"}, "control character (U+202E)"},
	} {
		err := c.Do(ctx, tc.method, tc.path, tc.body, nil)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, tc.want) {
			t.Errorf("%s %s: got %v, want 400 saying %q", tc.method, tc.path, err, tc.want)
		}
	}
	if len(s.calls) != 0 {
		t.Fatalf("refused requests reached the service: %q", s.calls)
	}

	// In a bulk import, entries with a bad name are listed like those
	// with a bad URI, by their index, and the others kept.
	var res api.BulkResult
	err := c.Do(ctx, "POST", "/v1/preauth/bulk", map[string]any{"entries": []api.PreauthRequest{
		{URI: "DPP:1", Name: "one"}, {URI: "DPP:2", Name: "two\r\n"}, {URI: "bad", Name: "three"}, {URI: "DPP:4", Name: "four"},
	}}, &res)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 || len(res.Errors) != 2 || res.Errors[0].Index != 1 || !strings.Contains(res.Errors[0].Error, "control character") ||
		res.Errors[1].Index != 2 || res.Errors[1].Error != "bad URI" {
		t.Fatalf("bulk: %+v", res)
	}
	if strings.Join(s.calls, ",") != "bulk one,bulk three,bulk four" {
		t.Fatalf("the service got %q", s.calls)
	}
}

// "." and ".." are no device: the server would clean the path to the
// device list and answer for it, the client must not take that for one.
func TestDotIsNoDevice(t *testing.T) {
	c, _ := start(t, &service{devices: map[string]api.Device{"d-1": {ID: "d-1", Name: "Cam"}}})
	for _, path := range []string{"/v1/devices/.", "/v1/devices/..", "/v1/devices/./rotate"} {
		var d api.Device
		err := c.Do(context.Background(), "GET", path, nil, &d)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status != 404 || !strings.Contains(ae.Message, "is not an id or a name") {
			t.Errorf("GET %s: got %v (device %+v), want a 404 naming the step", path, err, d)
		}
	}
}

// The server, asked directly, takes no dot step for an id either, spelt
// plainly or escaped.
func TestDotIsNoDeviceOnTheSocket(t *testing.T) {
	_, path := start(t, &service{devices: map[string]api.Device{"d-1": {ID: "d-1", Name: "Cam"}}})
	for _, target := range []string{"/v1/devices/..", "/v1/devices/.", "/v1/devices/%2e%2E", "/v1/devices/%2E/rotate"} {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: trustjoin\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode != 404 || !strings.Contains(string(b), "no such API call") {
			t.Errorf("GET %s: %d %s, want 404", target, resp.StatusCode, b)
		}
	}
}

// A client that keeps its connection open after a call does not keep it:
// idle keep-alive connections are closed.
func TestIdleConnectionsClosed(t *testing.T) {
	api.SetIdleTimeout(200 * time.Millisecond)
	defer api.SetIdleTimeout(30 * time.Second)
	_, path := start(t, &service{devices: map[string]api.Device{}})
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /v1/devices HTTP/1.1\r\nHost: trustjoin\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("status %d, close %v: want a kept-alive 200", resp.StatusCode, resp.Close)
	}
	// The server closes it: the read ends with EOF, well before the
	// deadline that would mean it is still held.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("an idle API connection was kept open: %v", err)
	}
}
