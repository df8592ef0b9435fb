package mud

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/fsutil"
	"github.com/trustjoin/trustjoin/src/internal/httpc"
	"github.com/trustjoin/trustjoin/src/internal/httpd"
)

// A Fetcher retrieves MUD files over HTTPS and keeps the last good copy of
// each on flash, so a manufacturer's server being down never loosens or
// tightens a device's policy by surprise.
type Fetcher struct {
	// RootCAs are the roots servers' certificates must chain to; nil means
	// the system's (on OpenWrt the ca-bundle or ca-certificates package;
	// SSL_CERT_FILE and SSL_CERT_DIR override them).
	RootCAs *x509.CertPool
	// Dir caches files, one per URL, root-only.
	Dir     string
	MaxSize int
	Timeout time.Duration
	Now     func() time.Time

	mu sync.Mutex
}

// Result is a fetched (or cached) MUD file.
type Result struct {
	Policy *Policy
	// Raw is the file as served: signatures are over these bytes.
	Raw       []byte
	FetchedAt time.Time
	// Stale says the copy is the last good one because a refresh failed;
	// LastError says why.
	Stale     bool
	LastError string
}

type cacheEntry struct {
	URL       string    `json:"url"`
	FetchedAt time.Time `json:"fetched_at"`
	Raw       string    `json:"raw"`
}

const maxRedirects = 3

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fetcher) cachePath(u string) string {
	sum := sha256.Sum256([]byte(u))
	return filepath.Join(f.Dir, hex.EncodeToString(sum[:12])+".json")
}

func (f *Fetcher) cached(u string) (*cacheEntry, bool) {
	b, err := os.ReadFile(f.cachePath(u))
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if json.Unmarshal(b, &e) != nil || e.URL != u {
		return nil, false
	}
	return &e, true
}

// Get returns the MUD file at u: from the cache while it is within its
// cache-validity, otherwise fetched again. When fetching fails and a good
// copy exists, that copy is returned marked Stale with the reason.
func (f *Fetcher) Get(ctx context.Context, u string) (*Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old, haveOld := f.cached(u)
	if haveOld {
		if p, err := Parse([]byte(old.Raw), f.MaxSize); err == nil && f.now().Sub(old.FetchedAt) < p.CacheValidity {
			return &Result{Policy: p, Raw: []byte(old.Raw), FetchedAt: old.FetchedAt}, nil
		}
	}
	raw, err := f.fetch(ctx, u)
	var p *Policy
	if err == nil {
		p, err = Parse(raw, f.MaxSize)
		if err == nil && p.URL != u {
			err = fmt.Errorf("the file says its URL is %s, not %s", p.URL, u)
		}
	}
	if err != nil {
		if haveOld {
			if op, perr := Parse([]byte(old.Raw), f.MaxSize); perr == nil {
				return &Result{Policy: op, Raw: []byte(old.Raw), FetchedAt: old.FetchedAt, Stale: true, LastError: err.Error()}, nil
			}
		}
		return nil, err
	}
	now := f.now()
	b, _ := json.Marshal(cacheEntry{URL: u, FetchedAt: now, Raw: string(raw)})
	if _, err := fsutil.WriteFile(f.cachePath(u), b, 0o600); err != nil {
		return nil, err
	}
	return &Result{Policy: p, Raw: raw, FetchedAt: now}, nil
}

// Cached returns the last good copy of the MUD file at u without asking
// the network, whatever its age: at start-up the WAN may not be up yet, and
// the device's policy must be back in force before the daemon is ready.
func (f *Fetcher) Cached(u string) (*Result, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.cached(u)
	if !ok {
		return nil, false
	}
	p, err := Parse([]byte(e.Raw), f.MaxSize)
	if err != nil {
		return nil, false
	}
	return &Result{Policy: p, Raw: []byte(e.Raw), FetchedAt: e.FetchedAt}, true
}

// ErrNotHTTPS refuses anything but https: a MUD file read over plain http
// could be rewritten by anyone on the path.
var ErrNotHTTPS = errors.New("MUD files are only fetched over https")

func (f *Fetcher) fetch(ctx context.Context, u string) ([]byte, error) {
	limit := f.MaxSize
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	return f.fetchLimit(ctx, u, limit, "MUD file")
}

// Fetch retrieves the file at u by the rules Get uses (https only, never
// redirected to http, f.Timeout), reading at most limit bytes, without
// the cache and without parsing: for checking a file by hand.
func (f *Fetcher) Fetch(ctx context.Context, u string, limit int) ([]byte, error) {
	return f.fetchLimit(ctx, u, limit, "MUD file")
}

func (f *Fetcher) fetchLimit(ctx context.Context, u string, limit int, what string) ([]byte, error) {
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme != "https" || pu.Host == "" {
		return nil, fmt.Errorf("%w: %q", ErrNotHTTPS, u)
	}
	timeout := f.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for redirects := 0; ; redirects++ {
		resp, err := f.get(ctx, pu)
		if err != nil {
			return nil, fmt.Errorf("failed to fetch the %s: %w", what, err)
		}
		if resp.StatusCode == httpd.StatusOK {
			b, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
			resp.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("failed to read the %s: %w", what, err)
			}
			if len(b) > limit {
				return nil, fmt.Errorf("the %s is larger than %d bytes", what, limit)
			}
			return b, nil
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case httpd.StatusMovedPermanently, httpd.StatusFound, httpd.StatusSeeOther, httpd.StatusTemporaryRedirect, httpd.StatusPermanentRedirect:
		default:
			return nil, fmt.Errorf("failed to fetch the %s: server answered %s", what, resp.Status)
		}
		loc := resp.Header.Get("Location")
		next, err := pu.Parse(loc)
		switch {
		case err != nil || loc == "":
			return nil, fmt.Errorf("failed to fetch the %s: %s redirects to a bad location %q", what, pu, loc)
		case next.Scheme != "https" || next.Host == "":
			return nil, fmt.Errorf("failed to fetch the %s: %w: redirected to %s", what, ErrNotHTTPS, next)
		case redirects == maxRedirects:
			return nil, fmt.Errorf("failed to fetch the %s: more than %d redirects", what, maxRedirects)
		}
		pu = next
	}
}

// get sends one GET for u over a new TLS connection checked against
// RootCAs. Redirects are the caller's.
func (f *Fetcher) get(ctx context.Context, u *url.URL) (*httpc.Response, error) {
	port := u.Port()
	if port == "" {
		port = "443"
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, &tls.Config{ServerName: u.Hostname(), RootCAs: f.RootCAs})
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	req, err := httpc.NewRequest("GET", u.String(), nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	req.Header.Set("Accept", "application/mud+json")
	req.Header.Set("Accept-Language", "en")
	return httpc.Do(ctx, conn, req)
}
