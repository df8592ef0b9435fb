package mudlearn

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/behaviour"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// next stands for the MUD fetcher: it knows no URL.
type next struct{ asked []string }

var errFetched = errors.New("fetched from the network")

func (n *next) Get(_ context.Context, u string) (*mud.Result, error) {
	n.asked = append(n.asked, u)
	return nil, errFetched
}
func (n *next) Cached(u string) (*mud.Result, bool) { n.asked = append(n.asked, u); return nil, false }
func (n *next) Signature(_ context.Context, u string) ([]byte, error) {
	return nil, errFetched
}
func (n *next) CachedSignature(string) ([]byte, bool) { return nil, false }

// TestKeepAndServe: an approved profile, kept, is served at its URL
// exactly as written (its digest is what was approved), from flash and
// never the network; other URLs go to the fetcher; a URL naming no kept
// profile, or trying to leave the folder, is refused.
func TestKeepAndServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := t0
	l := open(t, dir, &now)
	l.Start("d-cam", "camera", time.Hour)
	if ids, until := l.Current(); len(ids) != 1 || ids[0] != "d-cam" || !until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Current = %v, %v while learning", ids, until)
	}
	l.Observe("d-cam", flow(behaviour.Opened, "", "198.51.100.10", 6, 8080), t0)
	now = t0.Add(2 * time.Hour)
	if ids, until := l.Current(); len(ids) != 0 || !until.IsZero() {
		t.Fatalf("Current = %v, %v after learning", ids, until)
	}
	p, _ := l.Profile("d-cam")
	raw, err := Propose(p, now)
	if err != nil {
		t.Fatal(err)
	}
	u, err := l.Keep("d-cam", raw)
	if err != nil || u != URL("d-cam") {
		t.Fatalf("Keep = %q, %v", u, err)
	}
	n := &next{}
	s := &Source{Dir: dir, Next: n}
	for _, get := range []func() (*mud.Result, error){
		func() (*mud.Result, error) { return s.Get(context.Background(), u) },
		func() (*mud.Result, error) {
			r, ok := s.Cached(u)
			if !ok {
				return nil, errors.New("not cached")
			}
			return r, nil
		},
	} {
		r, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if mud.Digest(r.Raw) != mud.Digest(raw) || r.Policy.URL != u || len(r.Policy.FromDevice) == 0 {
			t.Fatalf("served %s (digest %s), want the kept file", r.Raw, mud.Digest(r.Raw))
		}
	}
	if len(n.asked) != 0 {
		t.Fatalf("the fetcher was asked for %v", n.asked)
	}
	if _, err := s.Get(context.Background(), "https://maker.example/cam.json"); !errors.Is(err, errFetched) {
		t.Fatalf("another URL: %v, want it fetched", err)
	}
	for _, bad := range []string{URLBase + "d-other.json", URLBase + "..%2fmud.json", URLBase + "../d-cam.json", URLBase} {
		if _, err := s.Get(context.Background(), bad); err == nil || errors.Is(err, errFetched) {
			t.Errorf("Get(%s) = %v, want refused", bad, err)
		}
		if _, ok := s.Cached(bad); ok {
			t.Errorf("Cached(%s) served something", bad)
		}
	}
	if !strings.HasPrefix(u, URLBase) {
		t.Fatalf("URL %s", u)
	}
}
