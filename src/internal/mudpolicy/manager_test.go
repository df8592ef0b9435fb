package mudpolicy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/mud"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
)

const file = `{"ietf-mud:mud":{"mud-version":1,"mud-url":"https://mfg.example/cam.json","last-update":"2026-01-01T00:00:00Z",
	"cache-validity":24,"is-supported":true,"systeminfo":"test camera",
	"from-device-policy":{"access-lists":{"access-list":[{"name":"out"}]}}},
	"ietf-access-control-list:acls":{"acl":[{"name":"out","type":"ipv4-acl-type","aces":{"ace":[
	{"name":"a","matches":{"tcp":{"destination-port":{"port":443}}},"actions":{"forwarding":"accept"}}]}}]}}`

// source serves one file, from its cache or the network, or fails.
type source struct {
	res    *mud.Result
	cached bool
	down   bool
	gets   int
}

func (s *source) Get(context.Context, string) (*mud.Result, error) {
	s.gets++
	if s.down {
		return nil, errors.New("server answered 503")
	}
	s.cached = true
	return s.res, nil
}

func (s *source) Cached(string) (*mud.Result, bool) { return s.res, s.cached }
func (s *source) Signature(context.Context, string) ([]byte, error) {
	return nil, errors.New("no signature")
}
func (s *source) CachedSignature(string) ([]byte, bool) { return nil, false }

// Evaluate decides from the cache without the network, fetches only when
// due, keeps the last good file when a refresh fails, and says when to
// look again.
func TestEvaluate(t *testing.T) {
	p, err := mud.Parse([]byte(file), 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	src := &source{res: &mud.Result{Policy: p, Raw: []byte(file), FetchedAt: now}}
	m := mudpolicy.New(mudpolicy.Options{Source: src, Policy: config.SignatureAllow, Now: func() time.Time { return now }})
	s := mudpolicy.Subject{ID: "d1", URL: "https://mfg.example/cam.json"}
	ctx := context.Background()

	if out := m.Evaluate(ctx, s, false); out.Status != "fetching" || out.Policy != nil || src.gets != 0 {
		t.Fatalf("nothing cached, offline: %+v (%d fetches)", out, src.gets)
	}
	if due, _ := m.Due(now); len(due) != 1 {
		t.Fatalf("a file never fetched is not due: %v", due)
	}
	out := m.Evaluate(ctx, s, true)
	if out.Status != "enforced" || out.Policy != p || out.PolicyDigest != mud.Digest([]byte(file)) || src.gets != 1 {
		t.Fatalf("fetched: %+v (%d fetches)", out, src.gets)
	}
	if due, next := m.Due(now); len(due) != 0 || !next.Equal(now.Add(time.Hour)) {
		t.Fatalf("due %v next %v right after a fetch valid for 24 h", due, next)
	}
	if out := m.Evaluate(ctx, s, true); src.gets != 1 || out.Policy != p {
		t.Fatalf("fetched again before it was due: %d fetches", src.gets)
	}
	// A day later the server is down: the file fetched before stays.
	now = now.Add(25 * time.Hour)
	src.down = true
	if out := m.Evaluate(ctx, s, true); out.Status != "enforced" || out.Policy != p || !strings.Contains(out.Detail, "still enforcing the copy fetched before") {
		t.Fatalf("failed refresh: %+v", out)
	}
	// Turned off: nothing is enforced, nothing fetched.
	off := mudpolicy.New(mudpolicy.Options{Source: src, Off: true})
	if out := off.Evaluate(ctx, s, true); out.Status != "none" || out.Policy != nil || !strings.Contains(out.Detail, "turned off") {
		t.Fatalf("MUD off: %+v", out)
	}
}
