package mud_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// mudFor returns a valid MUD file naming url as its own.
func mudFor(url string) string {
	return strings.Replace(doc(`{"name":"a","matches":{"tcp":{"destination-port":{"port":443}}},"actions":{"forwarding":"accept"}}`),
		"https://mfg.example/cam", url, 1)
}

// roots trusts srv's certificate alone.
func roots(srv *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
}

// A real TLS server: the fetcher must check its certificate, which only
// the test's client trusts.
func TestFetch(t *testing.T) {
	var hits atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/cam":
			if r.Header.Get("Accept") != "application/mud+json" {
				http.Error(w, "wrong Accept", http.StatusNotAcceptable)
				return
			}
			w.Header().Set("Content-Type", "application/mud+json")
			w.Write([]byte(mudFor(srv.URL + "/cam")))
		case "/to-https":
			http.Redirect(w, r, srv.URL+"/cam", http.StatusFound)
		case "/to-http":
			http.Redirect(w, r, strings.Replace(srv.URL, "https://", "http://", 1)+"/cam", http.StatusFound)
		case "/big":
			w.Write([]byte(strings.Repeat(" ", mud.DefaultMaxSize+1)))
		case "/slow":
			time.Sleep(2 * time.Second)
		case "/loop":
			http.Redirect(w, r, srv.URL+"/loop", http.StatusFound)
		case "/hop1", "/hop2", "/hop3", "/hop4":
			// /hopN redirects N times before reaching /cam.
			n := int(r.URL.Path[4] - '1')
			next := "/cam"
			if n > 0 {
				next = "/hop" + string(rune('0'+n))
			}
			http.Redirect(w, r, next, http.StatusMovedPermanently)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &mud.Fetcher{RootCAs: roots(srv), Dir: t.TempDir(), Timeout: 500 * time.Millisecond, Now: func() time.Time { return now }}
	ctx := context.Background()

	r, err := f.Get(ctx, srv.URL+"/cam")
	if err != nil || r.Stale || len(r.Policy.FromDevice) != 1 {
		t.Fatalf("Get: %+v %v", r, err)
	}
	// Within cache-validity (24 h in this file): no new request.
	n := hits.Load()
	now = now.Add(23 * time.Hour)
	if _, err := f.Get(ctx, srv.URL+"/cam"); err != nil || hits.Load() != n {
		t.Fatalf("cached file fetched again (%v)", err)
	}

	bad := []struct{ path, want string }{
		{"/to-http", "only fetched over https: redirected to http://"},
		{"/big", fmt.Sprintf("larger than %d bytes", mud.DefaultMaxSize)},
		{"/slow", "deadline exceeded"},
		{"/loop", "more than 3 redirects"},
		{"/hop4", "more than 3 redirects"},
		{"/missing", "server answered 404"},
	}
	for _, b := range bad {
		if _, err := f.Get(ctx, srv.URL+b.path); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: %v, want an error containing %q", b.path, err, b.want)
		}
	}
	if _, err := f.Get(ctx, "http://mfg.example/cam"); !errors.Is(err, mud.ErrNotHTTPS) {
		t.Errorf("plain http accepted: %v", err)
	}
	// Following an https redirect is fine, but the file must name the URL
	// the device gave: here it names /cam, not /to-https.
	for _, p := range []string{"/to-https", "/hop3"} {
		if _, err := f.Get(ctx, srv.URL+p); err == nil || !strings.Contains(err.Error(), "the file says its URL is") {
			t.Errorf("%s: redirected file accepted under another URL: %v", p, err)
		}
	}

	// A server whose certificate nobody trusts is refused.
	strict := &mud.Fetcher{Dir: t.TempDir(), Timeout: time.Second}
	if _, err := strict.Get(ctx, srv.URL+"/cam"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate accepted: %v", err)
	}

	// Past cache-validity with the server gone: the last good copy is
	// kept, marked stale, with the reason.
	now = now.Add(48 * time.Hour)
	srv.Close()
	r, err = f.Get(ctx, srv.URL+"/cam")
	if err != nil || !r.Stale || r.LastError == "" || len(r.Policy.FromDevice) != 1 {
		t.Fatalf("stale copy not kept: %+v %v", r, err)
	}
}
