package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/web"
)

// onboarder records what the pages ask; the real one runs in the
// browser tests (test/ui/phone) and the lab.
type onboarder struct {
	mu        sync.Mutex
	got       []api.OnboardRequest
	cancelled []string
	fail      error
}

func (o *onboarder) Onboard(_ context.Context, r api.OnboardRequest) (api.Progress, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return api.Progress{}, o.fail
	}
	o.got = append(o.got, r)
	return api.Progress{ID: fmt.Sprintf("o-%d", len(o.got)), State: "queued"}, nil
}

func (o *onboarder) Progress(_ context.Context, id string) (api.Progress, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range o.cancelled {
		if c == id {
			return api.Progress{ID: id, State: "cancelled"}, nil
		}
	}
	return api.Progress{ID: id, State: "running", Step: "sending the device its credential over Wi-Fi Easy Connect"}, nil
}

func (o *onboarder) Cancel(_ context.Context, id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cancelled = append(o.cancelled, id)
	return nil
}

func (o *onboarder) requests() []api.OnboardRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]api.OnboardRequest(nil), o.got...)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type rig struct {
	srv   *web.Server
	ob    *onboarder
	clock *clock
	base  string
	logs  *syncBuffer
	// replies keeps every reply's headers and body, to look for secrets.
	replies *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func start(t *testing.T, opts ...func(*web.Options)) *rig {
	t.Helper()
	r := &rig{ob: &onboarder{}, clock: &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}, logs: &syncBuffer{}, replies: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o := web.Options{
		Log: log, Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")},
		TokenTTL: 5 * time.Minute, Onboarder: r.ob, State: web.NewState(r.clock.Now),
	}
	for _, fn := range opts {
		fn(&o)
	}
	srv, err := web.New(o)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	errC := make(chan error, 1)
	go func() { errC <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errC; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("web server not ready")
	}
	r.base = "http://" + srv.Addrs()[0].String()
	return r
}

// browser is one phone's browser: its own cookies.
type browser struct {
	r  *rig
	hc *http.Client
}

func (r *rig) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{r: r, hc: &http.Client{Jar: jar, Timeout: 5 * time.Second}}
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(t *testing.T, method, target string, body any, hdr map[string]string) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	if strings.HasPrefix(target, "/") {
		target = b.r.base + target
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		}
		req.Header.Set(k, v)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	resp.Header.Write(b.r.replies)
	b.r.replies.Write(out)
	return reply{resp.StatusCode, resp.Header, string(out)}
}

func (b *browser) get(t *testing.T, target string) reply { return b.do(t, "GET", target, nil, nil) }

// csrf reads the page's CSRF token, as app.js does.
func (b *browser) csrf(t *testing.T) string {
	t.Helper()
	p := b.get(t, "/")
	_, rest, ok := strings.Cut(p.body, `name="csrf-token" content="`)
	if !ok || p.status != 200 {
		t.Fatalf("no CSRF token in the page (%d):\n%s", p.status, p.body)
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}

// post sends what the page sends.
func (b *browser) post(t *testing.T, body any, csrf string) reply {
	return b.do(t, "POST", "/api/onboard", body, map[string]string{
		"Content-Type": "application/json", "X-CSRF-Token": csrf,
		"Origin": b.r.base, "Sec-Fetch-Site": "same-origin",
	})
}

func (r *rig) link(t *testing.T) api.PhoneSession {
	t.Helper()
	p, err := r.srv.PhoneStart(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func must(t *testing.T, got reply, status int, text string) {
	t.Helper()
	if got.status != status || !strings.Contains(got.body, text) {
		t.Fatalf("got %d, want %d with %q:\n%s", got.status, status, text, got.body)
	}
}

const uri = "DPP:V:2;K:MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADURzxmttZoIRIPWGoQMV00XHWCAQIhXruVWOz0NjlkIA=;;"

func TestNew(t *testing.T) {
	ob := &onboarder{}
	tests := []struct {
		name   string
		listen []string
		err    string
	}{
		{"every IPv4 interface", []string{"0.0.0.0:8099"}, "refusing to listen on 0.0.0.0:8099"},
		{"every IPv6 interface", []string{"192.168.1.1:8099", "[::]:8099"}, "refusing to listen on [::]:8099"},
		{"every interface, IPv4 in IPv6", []string{"[::ffff:0.0.0.0]:8099"}, "would listen on every interface"},
		{"every interface of a zone", []string{"[::%eth0]:8099"}, "would listen on every interface"},
		{"a public address", []string{"[2001:db8::1]:8099"}, "is not a LAN address"},
		{"nothing", nil, "no LAN address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ls []netip.AddrPort
			for _, l := range tt.listen {
				ls = append(ls, netip.MustParseAddrPort(l))
			}
			_, err := web.New(web.Options{Listen: ls, Onboarder: ob})
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("got %v, want an error with %q", err, tt.err)
			}
		})
	}
}

func TestListensOnlyWhereTold(t *testing.T) {
	r := start(t)
	for _, ap := range r.srv.Addrs() {
		if ap.Addr() != netip.MustParseAddr("127.0.0.1") {
			t.Fatalf("listening on %s, want 127.0.0.1 only", ap)
		}
	}
	p := r.link(t)
	if !strings.HasPrefix(p.URL, r.base+"/p/") {
		t.Fatalf("link %q does not point at the address listened on (%s)", p.URL, r.base)
	}
	if !strings.HasPrefix(p.QR, "data:image/svg+xml;base64,") || len(p.QR) < 500 {
		t.Fatalf("QR is not an SVG data URL: %.60q", p.QR)
	}
	if tok := strings.TrimPrefix(p.URL, r.base+"/p/"); len(tok) < 22 {
		t.Fatalf("token %d characters: under 128 bits", len(tok))
	}
	if got, want := p.ExpiresAt, r.clock.Now().Add(5*time.Minute); !got.Equal(want) {
		t.Fatalf("expires at %v, want %v", got, want)
	}
}

func TestLinkSingleUseAndBoundToFirstBrowser(t *testing.T) {
	r := start(t)
	p := r.link(t)
	phone, other := r.browser(t), r.browser(t)

	must(t, phone.get(t, p.URL), 200, "Add a device to your Wi-Fi")
	var c *http.Cookie
	for _, k := range phone.hc.Jar.Cookies(mustURL(t, r.base)) {
		if k.Name == "tj_phone" {
			c = k
		}
	}
	if c == nil {
		t.Fatal("no session cookie after opening the link")
	}
	// The jar hides the attributes: ask again without following.
	raw := rawOpen(t, r, r.link(t).URL)
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(raw.Get("Set-Cookie"), attr) {
			t.Errorf("cookie %q lacks %s", raw.Get("Set-Cookie"), attr)
		}
	}
	if raw.Get("Location") != "/" {
		t.Errorf("opening the link leaves the token in the address bar: Location %q", raw.Get("Location"))
	}

	must(t, other.get(t, p.URL), 410, "This link has already been used")
	must(t, other.get(t, "/"), 403, "Scan the router&#39;s code first")
	must(t, phone.get(t, p.URL), 410, "You already opened this link")
	must(t, phone.get(t, "/"), 200, "Take a photo of the QR code")
	must(t, other.get(t, r.base+"/p/AAAAAAAAAAAAAAAAAAAAAAAA"), 404, "This link does not work")
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func rawOpen(t *testing.T, r *rig, link string) http.Header {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("opening a fresh link: %d", resp.StatusCode)
	}
	return resp.Header
}

func TestLinkExpires(t *testing.T) {
	r := start(t)
	p := r.link(t)
	r.clock.add(5*time.Minute + time.Second)
	must(t, r.browser(t).get(t, p.URL), 410, "This link has expired")

	// Just in time still works, and the session outlives the link.
	p = r.link(t)
	r.clock.add(4 * time.Minute)
	phone := r.browser(t)
	must(t, phone.get(t, p.URL), 200, "Add a device")
	r.clock.add(20 * time.Minute)
	must(t, phone.get(t, "/"), 200, "Add a device")
	r.clock.add(11 * time.Minute)
	must(t, phone.get(t, "/"), 403, "Your time is up")
	must(t, phone.post(t, map[string]string{"method": "qr", "uri": uri}, "x"), 403, "Your time is up")
}

func TestRevoke(t *testing.T) {
	r := start(t)
	p := r.link(t)
	if err := r.srv.PhoneRevoke(context.Background(), p.ID); err != nil {
		t.Fatal(err)
	}
	must(t, r.browser(t).get(t, p.URL), 410, "This link was cancelled")

	// Revoking an opened link logs the phone out.
	p = r.link(t)
	phone := r.browser(t)
	must(t, phone.get(t, p.URL), 200, "Add a device")
	csrf := phone.csrf(t)
	if err := r.srv.PhoneRevoke(context.Background(), p.ID); err != nil {
		t.Fatal(err)
	}
	must(t, phone.get(t, "/"), 403, "This phone link was cancelled")
	must(t, phone.post(t, map[string]string{"method": "qr", "uri": uri}, csrf), 403, "cancelled")
	if got := r.ob.requests(); len(got) != 0 {
		t.Fatalf("a revoked session onboarded: %v", got)
	}
	if err := r.srv.PhoneRevoke(context.Background(), "ph-nothing"); !fault.Is(err, fault.NotFound) {
		t.Fatalf("revoking an unknown link: %v", err)
	}
}

func TestCSRF(t *testing.T) {
	r := start(t)
	phone := r.browser(t)
	must(t, phone.get(t, r.link(t).URL), 200, "Add a device")
	csrf := phone.csrf(t)
	body := map[string]string{"method": "qr", "uri": uri}
	good := map[string]string{"Content-Type": "application/json", "X-CSRF-Token": csrf, "Origin": r.base, "Sec-Fetch-Site": "same-origin"}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for a, b := range good {
			h[a] = b
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	tests := []struct {
		name string
		hdr  map[string]string
	}{
		{"no token", with("X-CSRF-Token", "")},
		{"wrong token", with("X-CSRF-Token", strings.Repeat("A", len(csrf)))},
		{"another site's origin", with("Origin", "http://evil.example")},
		{"cross-site fetch", with("Sec-Fetch-Site", "cross-site")},
		{"same-site but other origin", with("Sec-Fetch-Site", "same-site")},
		{"form post", with("Content-Type", "application/x-www-form-urlencoded")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			must(t, phone.do(t, "POST", "/api/onboard", body, tt.hdr), 403, "did not come from the page")
		})
	}
	if got := r.ob.requests(); len(got) != 0 {
		t.Fatalf("refused requests reached onboarding: %v", got)
	}
	// Another browser's valid token is no good either.
	other := r.browser(t)
	must(t, other.get(t, r.link(t).URL), 200, "Add a device")
	must(t, phone.post(t, body, other.csrf(t)), 403, "did not come from the page")

	// Older browsers send neither Origin nor Sec-Fetch-Site: the token
	// alone is enough.
	must(t, phone.do(t, "POST", "/api/onboard", map[string]string{"method": "pkex", "code": "a1b2c3", "name": "Plug"}, with("Origin", "")), 202, `"state":"queued"`)
	got := phone.post(t, body, csrf)
	must(t, got, 202, "Getting ready")
	// Both marked as the phone's: a phone link may add new devices only.
	want := []api.OnboardRequest{{Method: "pkex", Code: "a1b2c3", Name: "Plug", Via: api.ViaPhone}, {Method: "qr", URI: uri, Via: api.ViaPhone}}
	if diff := cmp.Diff(want, r.ob.requests()); diff != "" {
		t.Fatalf("onboarding requests (-want +got):\n%s", diff)
	}
}

func TestOnboardErrors(t *testing.T) {
	r := start(t)
	phone := r.browser(t)
	must(t, phone.get(t, r.link(t).URL), 200, "Add a device")
	csrf := phone.csrf(t)
	tests := []struct {
		name   string
		body   any
		fail   error
		status int
		msg    string
	}{
		{"not a DPP code", map[string]string{"method": "qr", "uri": "https://example.com"}, nil, 400, "This is not a Wi-Fi Easy Connect code"},
		{"no PKEX code", map[string]string{"method": "pkex"}, nil, 400, "Type the pairing code"},
		{"unknown field", map[string]string{"method": "qr", "uri": uri, "segment": "lan"}, nil, 400, "did not understand"},
		{"busy", map[string]string{"method": "qr", "uri": uri}, fault.New(fault.Conflict, "another device is being added on wlan0"), 409, `"Another device is being added on wlan0."`},
		{"internal", map[string]string{"method": "qr", "uri": uri}, errors.New("disk on fire"), 500, "could not do that"},
		// Parameters for hostapd smuggled inside a code, an identifier.
		{"code with parameters", map[string]string{"method": "pkex", "code": "abcdef init=1 tcp_addr=10.99.0.2 tcp_port=80 identifier=evil"}, nil, 400, "The pairing code must be 6 to 64 letters"},
		{"code with NUL", map[string]string{"method": "pkex", "code": "abcdef\x00init=1"}, nil, 400, "without spaces"},
		{"identifier with parameters", map[string]string{"method": "pkex", "code": "abcdef", "identifier": "a code=x"}, nil, 400, "The identifier must be one word"},
		// Names that forge table rows or drive terminals.
		{"name with newline", map[string]string{"method": "qr", "uri": uri, "name": "cam\nd-1 iot connected"}, nil, 400, "The name holds a control character (U+000A)"},
		{"name with escape", map[string]string{"method": "qr", "uri": uri, "name": "\x1b[2Jcam"}, nil, 400, "control character (U+001B)"},
		{"long name", map[string]string{"method": "qr", "uri": uri, "name": strings.Repeat("x", 65)}, nil, 400, "too long"},
		// Over the pages' 8 KiB: refused by the server before the handler.
		{"body too large", map[string]string{"method": "qr", "uri": uri, "name": strings.Repeat("x", 8<<10)}, nil, 413, "request body larger than 8192 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.ob.mu.Lock()
			r.ob.fail = tt.fail
			r.ob.mu.Unlock()
			r.clock.add(time.Minute) // keep clear of the session's rate
			must(t, phone.post(t, tt.body, csrf), tt.status, tt.msg)
		})
	}
	if strings.Contains(r.replies.String(), "disk on fire") {
		t.Fatal("an internal error reached the phone")
	}
	if got := r.ob.requests(); len(got) != 0 {
		t.Fatalf("refused requests reached the daemon: %+v", got)
	}
}

func TestProgressOnlyForItsPhone(t *testing.T) {
	r := start(t)
	phone, other := r.browser(t), r.browser(t)
	must(t, phone.get(t, r.link(t).URL), 200, "Add a device")
	must(t, other.get(t, r.link(t).URL), 200, "Add a device")
	must(t, phone.post(t, map[string]string{"method": "qr", "uri": uri}, phone.csrf(t)), 202, `"id":"o-1"`)
	must(t, phone.get(t, "/api/progress/o-1"), 200, `"title":"Talking to your device…"`)
	must(t, other.get(t, "/api/progress/o-1"), 404, "did not start")
	must(t, r.browser(t).get(t, "/api/progress/o-1"), 403, "Scan the router")
}

func TestRateLimits(t *testing.T) {
	r := start(t)
	guesser := r.browser(t)
	for i := 0; i < 10; i++ {
		must(t, guesser.get(t, fmt.Sprintf("/p/guess%02d", i)), 404, "does not work")
	}
	got := guesser.get(t, "/p/guess10")
	must(t, got, 429, "Too many tries")
	if got.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// Even a good link waits: the address is rationed, not the link.
	p := r.link(t)
	must(t, guesser.get(t, "/p/guess11"), 429, "Too many tries")
	r.clock.add(30 * time.Second)
	must(t, guesser.get(t, "/p/guess12"), 404, "does not work")
	must(t, guesser.get(t, p.URL), 200, "Add a device")

	// A session may start a few onboardings, then must wait.
	csrf := guesser.csrf(t)
	for i := 0; i < 6; i++ {
		must(t, guesser.post(t, map[string]string{"method": "qr", "uri": uri}, csrf), 202, "queued")
	}
	must(t, guesser.post(t, map[string]string{"method": "qr", "uri": uri}, csrf), 429, "Too many tries")
	r.clock.add(20 * time.Second)
	must(t, guesser.post(t, map[string]string{"method": "qr", "uri": uri}, csrf), 202, "queued")

	// Any request counts against the address.
	r.clock.add(time.Hour)
	n := 0
	for ; n < 100; n++ {
		if guesser.get(t, "/static/style.css").status == 429 {
			break
		}
	}
	if n != 60 {
		t.Fatalf("the %dth request was refused, want the 61st", n+1)
	}
}

func TestHeadersAndHost(t *testing.T) {
	r := start(t)
	b := r.browser(t)
	for _, path := range []string{"/", "/p/x", "/static/app.js", "/api/progress/x", "/nothing"} {
		got := b.get(t, path)
		for k, v := range map[string]string{
			"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
		} {
			if got.header.Get(k) != v {
				t.Errorf("%s: %s %q, want %q", path, k, got.header.Get(k), v)
			}
		}
		csp := got.header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline or eval: %q", path, csp)
		}
	}
	// A page reached under another name (DNS rebinding) is refused.
	must(t, b.do(t, "GET", "/", nil, map[string]string{"Host": "evil.example"}), 421, "Wrong address")
	// The pages have no inline script for the CSP to block.
	must(t, b.get(t, r.link(t).URL), 200, "Add a device")
	page := b.get(t, "/").body
	if strings.Count(page, "<script") != strings.Count(page, `<script src="/static/`) {
		t.Fatalf("inline script in the page:\n%s", page)
	}
}

func TestDecoderServedCompressed(t *testing.T) {
	r := start(t)
	get := func(gz bool) ([]byte, http.Header) {
		req, _ := http.NewRequest("GET", r.base+"/static/jsqr.js", nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b, resp.Header
	}
	z, h := get(true)
	if h.Get("Content-Encoding") != "gzip" || len(z) > 70<<10 {
		t.Fatalf("decoder sent as %q, %d bytes", h.Get("Content-Encoding"), len(z))
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	unz, _ := io.ReadAll(zr)
	plain, _ := get(false)
	// The vendored file is jsQR 1.4.0's dist/jsQR.js (assets/vendor-jsqr.sh).
	const want = "bc40c8a15196236b2314db0856f72ca0b49980cd5413b8c852a7349f5fee0859"
	for name, b := range map[string][]byte{"gzip": unz, "plain": plain} {
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != want {
			t.Errorf("%s: decoder is not the vendored jsQR 1.4.0", name)
		}
	}
}

// TestNoSecretAnywhere runs a whole flow and looks for the link's token,
// the session cookie and the CSRF token where they must not be.
func TestNoSecretAnywhere(t *testing.T) {
	r := start(t)
	p := r.link(t)
	token := strings.TrimPrefix(p.URL, r.base+"/p/")
	phone, other := r.browser(t), r.browser(t)
	must(t, phone.get(t, p.URL), 200, "Add a device")
	csrf := phone.csrf(t)
	must(t, phone.post(t, map[string]string{"method": "qr", "uri": uri}, csrf), 202, "queued")
	phone.get(t, "/api/progress/o-1")
	must(t, other.get(t, p.URL), 410, "already been used")
	must(t, phone.get(t, p.URL), 410, "already opened")
	var cookie string
	for _, c := range phone.hc.Jar.Cookies(mustURL(t, r.base)) {
		cookie = c.Value
	}
	if cookie == "" {
		t.Fatal("no cookie")
	}
	replies := r.replies.String()
	if strings.Contains(replies, token) {
		t.Error("the link's token is in a reply")
	}
	// The cookie travels only in the one Set-Cookie that creates it.
	if n := strings.Count(replies, cookie); n != 0 {
		t.Errorf("the session cookie appears %d times in replies after it was set", n)
	}
	logs := r.logs.String()
	for name, s := range map[string]string{"token": token, "cookie": cookie, "CSRF token": csrf, "DPP URI": uri} {
		if strings.Contains(logs, s) {
			t.Errorf("the %s is in the log", name)
		}
	}
	h := sha256.Sum256([]byte(token))
	if !strings.Contains(logs, "token="+hex.EncodeToString(h[:4])) {
		t.Errorf("the log does not name the link by its short hash:\n%s", logs)
	}
}

// TestLocalAPI checks the phone calls of the local API and the rpcd
// plugin's table against a real socket.
func TestLocalAPI(t *testing.T) {
	r := start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	path := filepath.Join(t.TempDir(), "api.sock")
	for _, tt := range []struct {
		name string
		svc  api.Service
	}{{"off", struct{ api.Service }{}}, {"on", web.WithPhone(struct{ api.Service }{}, r.srv)}} {
		t.Run(tt.name, func(t *testing.T) {
			srv := api.NewSocketServer(log, path, api.NewHandler(log, tt.svc))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { srv.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			<-srv.Ready()
			c := api.NewClient(path)
			var p api.PhoneSession
			err := c.Do(ctx, "POST", "/v1/phone", nil, &p)
			var ae *api.Error
			if tt.name == "off" {
				if !errors.As(err, &ae) || ae.Status != 503 || !strings.Contains(ae.Message, "set option enabled '1'") {
					t.Fatalf("phone call with the pages off: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(p.URL, r.base+"/p/") || p.ID == "" || !strings.HasPrefix(p.QR, "data:image/svg+xml;base64,") {
				t.Fatalf("phone session %+v", p)
			}
			if err := c.Do(ctx, "DELETE", "/v1/phone/"+p.ID, nil, nil); err != nil {
				t.Fatal(err)
			}
			must(t, r.browser(t).get(t, p.URL), 410, "cancelled")
			if err := c.Do(ctx, "DELETE", "/v1/phone/"+p.ID+"x", nil, nil); !errors.As(err, &ae) || ae.Status != 404 {
				t.Fatalf("revoking an unknown link: %v", err)
			}
		})
	}
}

func TestCancelOnlyItsOwn(t *testing.T) {
	r := start(t)
	phone, other := r.browser(t), r.browser(t)
	must(t, phone.get(t, r.link(t).URL), 200, "Add a device")
	must(t, other.get(t, r.link(t).URL), 200, "Add a device")
	csrf := phone.csrf(t)
	must(t, phone.post(t, map[string]string{"method": "qr", "uri": uri}, csrf), 202, `"id":"o-1"`)
	hdr := func(csrf string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "X-CSRF-Token": csrf, "Origin": r.base}
	}
	must(t, other.do(t, "POST", "/api/cancel/o-1", map[string]string{}, hdr(other.csrf(t))), 404, "did not start")
	must(t, phone.do(t, "POST", "/api/cancel/o-1", map[string]string{}, hdr("forged")), 403, "did not come from the page")
	if len(r.ob.cancelled) != 0 {
		t.Fatalf("cancelled by a stranger: %v", r.ob.cancelled)
	}
	must(t, phone.do(t, "POST", "/api/cancel/o-1", map[string]string{}, hdr(csrf)), 200, `"title":"Stopped"`)
	if diff := cmp.Diff([]string{"o-1"}, r.ob.cancelled); diff != "" {
		t.Fatalf("cancelled (-want +got):\n%s", diff)
	}
}

// sourced is a browser whose requests come from the loopback address src
// (all of 127.0.0.0/8 is the host's own on Linux), each on a connection
// of its own.
func (r *rig) sourced(t *testing.T, src string) *browser {
	b := r.browser(t)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	b.hc.Transport = &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	return b
}

// Strangers from many addresses cannot fill the rate limiter's table and
// lock a new phone out: its first try always gets through.
func TestRateLimiterNotFilledByStrangers(t *testing.T) {
	r := start(t)
	link := r.link(t)
	for i := 0; i < 1100; i++ {
		src := fmt.Sprintf("127.1.%d.%d", i/250, i%250+1)
		if got := r.sourced(t, src).get(t, "/static/style.css"); got.status != 200 {
			t.Fatalf("stranger %s: %d", src, got.status)
		}
	}
	// The clock has not moved: no stranger's bucket has refilled.
	must(t, r.sourced(t, "127.0.0.77").get(t, link.URL), 200, "Add a device")
}

// A link previewer's HEAD does not use a link up: only the browser that
// gets the page does.
func TestHeadDoesNotUseLink(t *testing.T) {
	r := start(t)
	link := r.link(t)
	previewer := r.browser(t)
	for i := 0; i < 2; i++ {
		got := previewer.do(t, "HEAD", link.URL, nil, nil)
		if got.status != 200 || got.header.Get("Set-Cookie") != "" {
			t.Fatalf("HEAD of a fresh link: %d, cookie %q", got.status, got.header.Get("Set-Cookie"))
		}
	}
	phone := r.browser(t)
	must(t, phone.get(t, link.URL), 200, "Add a device")
	if got := previewer.do(t, "HEAD", link.URL, nil, nil); got.status != 410 {
		t.Fatalf("HEAD of a used link: %d, want 410", got.status)
	}
	if got := previewer.do(t, "HEAD", "/p/nosuchlink", nil, nil); got.status != 404 {
		t.Fatalf("HEAD of an unknown link: %d, want 404", got.status)
	}
}
