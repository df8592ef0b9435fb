package web

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/devname"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/hostapd"
	"github.com/trustjoin/trustjoin/src/internal/httpd"
)

//go:embed assets/phone.html assets/error.html assets/app.js assets/style.css assets/jsqr.js.gz
var assets embed.FS

const cookieName = "tj_phone"

// csp allows only the router's own scripts and styles, never inline ones,
// and no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// Handler returns the pages' HTTP handler.
func (s *Server) Handler() httpd.Handler {
	mux := httpd.NewServeMux()
	mux.HandleFunc("GET /p/{token}", s.open)
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /static/app.js", static("assets/app.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /static/style.css", static("assets/style.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /static/jsqr.js", static("assets/jsqr.js.gz", "text/javascript; charset=utf-8"))
	mux.HandleFunc("POST /api/onboard", s.onboard)
	mux.HandleFunc("GET /api/progress/{id}", s.progress)
	mux.HandleFunc("POST /api/cancel/{id}", s.cancel)
	mux.HandleFunc("POST /api/legacy", s.issue)
	mux.HandleFunc("/", func(w httpd.ResponseWriter, r *httpd.Request) {
		s.errorPage(w, httpd.StatusNotFound, problem{Title: "Page not found", Message: "There is nothing here.", Try: tryNew})
	})
	return s.guard(mux)
}

// guard sets the security headers and refuses strangers: unknown host
// names and clients over their rate.
func (s *Server) guard(next httpd.Handler) httpd.Handler {
	return httpd.HandlerFunc(func(w httpd.ResponseWriter, r *httpd.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// The link's token must not travel on in a Referer.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
		if ok, wait := s.perIP.allow(client(r)); !ok {
			s.tooMany(w, r, wait)
			return
		}
		if !s.knownHost(r.Host) {
			s.errorPage(w, httpd.StatusMisdirectedRequest, problem{Title: "Wrong address", Message: "Open this page with the address shown by the router's QR code.", Try: tryNew})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) tooMany(w httpd.ResponseWriter, r *httpd.Request, wait time.Duration) {
	secs := int(wait/time.Second) + 1
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	msg := fmt.Sprintf("Too many tries from this phone. Wait %d seconds and try again.", secs)
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, httpd.StatusTooManyRequests, map[string]string{"error": msg})
		return
	}
	s.errorPage(w, httpd.StatusTooManyRequests, problem{Title: "Slow down", Message: msg})
}

// problem is an error page: what happened and what to try, in plain words.
type problem struct {
	Title, Message, Try string
	// Continue, if set, links back to the phone's page.
	Continue bool
}

const tryNew = "On the router's page, go to Add a device and choose “Use my phone” to get a new code, then scan it with this phone's camera."

func (s *Server) errorPage(w httpd.ResponseWriter, status int, p problem) {
	b, err := render("error.html", map[string]string{"TITLE": p.Title, "MESSAGE": p.Message, "TRY": p.Try},
		map[string]bool{"try": p.Try != "", "continue": p.Continue})
	if err != nil {
		s.log.Error("failed to write a page", "err", err)
		httpd.Error(w, "internal error", httpd.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// open consumes a link and gives the browser its session.
func (s *Server) open(w httpd.ResponseWriter, r *httpd.Request) {
	cookie, _ := r.Cookie(cookieName)
	var (
		se  *session
		c   string
		res openResult
	)
	if r.Method == "HEAD" {
		// A link previewer: told what a browser would be, nothing used up.
		res = s.store.peek(r.PathValue("token"), cookie)
	} else {
		se, c, res = s.store.open(r.PathValue("token"), cookie)
	}
	if res != openOK && res != openUsedHere {
		// Wrong links are rationed per address: guessing is hopeless at
		// 144 bits and also slow.
		if ok, wait := s.badIP.allow(client(r)); !ok {
			s.tooMany(w, r, wait)
			return
		}
	}
	switch {
	case r.Method != "HEAD":
	case res == openOK:
		w.WriteHeader(httpd.StatusOK)
		return
	case res == openUnknown:
		w.WriteHeader(httpd.StatusNotFound)
		return
	default:
		w.WriteHeader(httpd.StatusGone)
		return
	}
	switch res {
	case openOK:
		s.log.Info("phone link opened", "session", se.id, "token", shortHash(se.tokenHash), "client", clientIP(r))
		cookie := fmt.Sprintf("%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict", cookieName, c, int(sessionTTL/time.Second))
		if r.TLS != nil {
			cookie += "; Secure"
		}
		w.Header().Add("Set-Cookie", cookie)
		// Off the link's address, so it is not left in the history.
		httpd.Redirect(w, "/", httpd.StatusSeeOther)
	case openUsedHere:
		s.errorPage(w, httpd.StatusGone, problem{Title: "You already opened this link", Message: "This link has been used, by this phone. You can carry on adding devices here.", Continue: true})
	case openUsed:
		s.log.Warn("phone link opened again by another browser", "session", se.id, "client", clientIP(r))
		s.errorPage(w, httpd.StatusGone, problem{Title: "This link has already been used", Message: "Each link works on one phone only: the first one that opens it. If that was not you, cancel the phone link on the router's page.", Try: tryNew})
	case openExpired:
		s.errorPage(w, httpd.StatusGone, problem{Title: "This link has expired", Message: fmt.Sprintf("For your safety, a link from the router works for %s only.", minutes(s.ttl)), Try: tryNew})
	case openRevoked:
		s.errorPage(w, httpd.StatusGone, problem{Title: "This link was cancelled", Message: "It was cancelled on the router's page and no longer works.", Try: tryNew})
	default:
		s.errorPage(w, httpd.StatusNotFound, problem{Title: "This link does not work", Message: "It may be incomplete or too old.", Try: tryNew})
	}
}

func minutes(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// session returns the caller's valid session, or writes why there is none.
func (s *Server) session(w httpd.ResponseWriter, r *httpd.Request, isAPI bool) *session {
	cookie, _ := r.Cookie(cookieName)
	se, st := s.store.lookup(cookie)
	if st == sessValid {
		return se
	}
	p := problem{Title: "Scan the router's code first", Message: "This page works only on the phone that opened the router's link.", Try: tryNew}
	switch st {
	case sessExpired:
		p = problem{Title: "Your time is up", Message: fmt.Sprintf("For your safety, a phone can add devices for %s after opening the link.", minutes(sessionTTL)), Try: tryNew}
	case sessRevoked:
		p = problem{Title: "This phone link was cancelled", Message: "It was cancelled on the router's page.", Try: tryNew}
	}
	if isAPI {
		writeJSON(w, httpd.StatusForbidden, map[string]string{"error": p.Title + ". " + p.Message, "hint": p.Try})
	} else {
		s.errorPage(w, httpd.StatusForbidden, p)
	}
	return nil
}

func (s *Server) page(w httpd.ResponseWriter, r *httpd.Request) {
	se := s.session(w, r, false)
	if se == nil {
		return
	}
	var csrf string
	s.store.withSession(func(time.Time) { csrf = se.csrf })
	legacy := s.legacy != nil
	b, err := render("phone.html", map[string]string{"CSRF": csrf, "TTL": minutes(sessionTTL)},
		map[string]bool{"legacy": legacy, "nolegacy": !legacy})
	if err != nil {
		s.log.Error("failed to write a page", "err", err)
		httpd.Error(w, "internal error", httpd.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

func static(name, ctype string) httpd.HandlerFunc {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return func(w httpd.ResponseWriter, r *httpd.Request) {
		w.Header().Set("Content-Type", ctype)
		if !gzipped(b) {
			w.Write(b)
			return
		}
		w.Header().Set("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b)
			return
		}
		// Kept compressed to spare flash; the rare browser without gzip
		// gets it unpacked on the fly, streamed with its length (the
		// gzip trailer's) rather than held in memory.
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil || len(b) < 4 {
			httpd.Error(w, "broken asset", httpd.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[len(b)-4:])), 10))
		io.Copy(w, zr)
	}
}

// sameOrigin checks that a change comes from the page itself: the CSRF
// token it was given, and, where the browser says, its own origin.
func (s *Server) sameOrigin(r *httpd.Request, se *session) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		if !strings.EqualFold(o, scheme+r.Host) {
			return false
		}
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return false
	}
	var csrf string
	s.store.withSession(func(time.Time) { csrf = se.csrf })
	got := r.Header.Get("X-CSRF-Token")
	return csrf != "" && subtle.ConstantTimeCompare([]byte(got), []byte(csrf)) == 1
}

// onboardForm is what the page posts.
type onboardForm struct {
	Method     string `json:"method"`
	URI        string `json:"uri"`
	Code       string `json:"code"`
	Identifier string `json:"identifier"`
	Name       string `json:"name"`
}

func (f onboardForm) check() error {
	switch f.Method {
	case "qr":
		if !strings.HasPrefix(f.URI, "DPP:") || len(f.URI) > 2048 {
			return errors.New("this is not a Wi-Fi Easy Connect code; its text starts with DPP:. Look for another QR code on the device, its box or its manual")
		}
	case "pkex":
		// hostapd would read more than a code into spaces and control
		// characters: see hostapd.CheckPKEXCode.
		switch {
		case f.Code == "":
			return errors.New("type the pairing code printed on the device")
		case hostapd.CheckPKEXCode(f.Code) != nil:
			return errPairingCode
		case hostapd.CheckPKEXIdentifier(f.Identifier) != nil:
			return errors.New("the identifier must be one word of letters, digits or punctuation marks: check what you typed")
		}
	default:
		return errors.New("choose how to add the device")
	}
	return checkName(f.Name)
}

var errPairingCode = errors.New("the pairing code must be 6 to 64 letters, digits or punctuation marks, without spaces: check what you typed")

// checkName checks a name typed on the phone; empty means none.
func checkName(name string) error {
	if name == "" {
		return nil
	}
	return devname.Check(name)
}

// changing admits a request that changes something: it must come with the
// phone's session, from the phone's own page and, when limited, within the
// session's allowance of posts. nil means the refusal has been written.
func (s *Server) changing(w httpd.ResponseWriter, r *httpd.Request, limited bool) *session {
	se := s.session(w, r, true)
	if se == nil {
		return nil
	}
	if !s.sameOrigin(r, se) {
		s.log.Warn("phone request refused: not from the phone's page", "session", se.id, "client", clientIP(r))
		writeJSON(w, httpd.StatusForbidden, map[string]string{"error": "This request did not come from the page the router gave this phone. Reload the page and try again."})
		return nil
	}
	if limited {
		var ok bool
		var wait time.Duration
		s.store.withSession(func(now time.Time) { ok, wait = se.posts.allow(now) })
		if !ok {
			s.tooMany(w, r, wait)
			return nil
		}
	}
	return se
}

func (s *Server) onboard(w httpd.ResponseWriter, r *httpd.Request) {
	se := s.changing(w, r, true)
	if se == nil {
		return
	}
	var f onboardForm
	dec := json.NewDecoder(io.LimitReader(r.Body, 8<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeJSON(w, httpd.StatusBadRequest, map[string]string{"error": "The page sent something the router did not understand. Reload the page and try again."})
		return
	}
	f.URI, f.Code, f.Identifier, f.Name = strings.TrimSpace(f.URI), strings.TrimSpace(f.Code), strings.TrimSpace(f.Identifier), strings.TrimSpace(f.Name)
	if err := f.check(); err != nil {
		writeJSON(w, httpd.StatusBadRequest, map[string]string{"error": capitalise(err.Error())})
		return
	}
	// A phone link may add new devices only (package device's rules).
	p, err := s.ob.Onboard(r.Context(), api.OnboardRequest{Method: f.Method, URI: f.URI, Code: f.Code, Identifier: f.Identifier, Name: f.Name, Via: api.ViaPhone})
	if err != nil {
		s.apiError(w, se, err)
		return
	}
	s.store.withSession(func(time.Time) { se.onboards[p.ID] = true })
	s.log.Info("onboarding started from a phone", "session", se.id, "request", p.ID, "method", f.Method)
	writeJSON(w, httpd.StatusAccepted, view(p))
}

// own returns the onboarding the request names if this phone started it;
// otherwise it answers 404 itself.
func (s *Server) own(w httpd.ResponseWriter, r *httpd.Request, se *session) (string, bool) {
	id := r.PathValue("id")
	var mine bool
	s.store.withSession(func(time.Time) { mine = se.onboards[id] })
	if !mine {
		writeJSON(w, httpd.StatusNotFound, map[string]string{"error": "This phone did not start that onboarding."})
	}
	return id, mine
}

func (s *Server) progress(w httpd.ResponseWriter, r *httpd.Request) {
	se := s.session(w, r, true)
	if se == nil {
		return
	}
	id, ok := s.own(w, r, se)
	if !ok {
		return
	}
	p, err := s.ob.Progress(r.Context(), id)
	if err != nil {
		s.apiError(w, se, err)
		return
	}
	writeJSON(w, httpd.StatusOK, view(p))
}

// cancel stops an onboarding this phone started: the householder sees
// that the device was not in pairing mode and need not wait for the timeout.
func (s *Server) cancel(w httpd.ResponseWriter, r *httpd.Request) {
	se := s.changing(w, r, false)
	if se == nil {
		return
	}
	id, ok := s.own(w, r, se)
	if !ok {
		return
	}
	if err := s.ob.Cancel(r.Context(), id); err != nil {
		s.apiError(w, se, err)
		return
	}
	s.log.Info("onboarding stopped from a phone", "session", se.id, "request", id)
	p, err := s.ob.Progress(r.Context(), id)
	if err != nil {
		s.apiError(w, se, err)
		return
	}
	writeJSON(w, httpd.StatusOK, view(p))
}

// apiError shows the daemon's plain-language error with the status its
// kind calls for; unexpected ones are logged and shown as a generic
// failure.
func (s *Server) apiError(w httpd.ResponseWriter, se *session, err error) {
	status := map[fault.Kind]int{
		fault.Invalid: httpd.StatusBadRequest, fault.NotFound: httpd.StatusNotFound, fault.Forbidden: httpd.StatusForbidden,
		fault.Conflict: httpd.StatusConflict, fault.Unavailable: httpd.StatusServiceUnavailable,
	}[fault.KindOf(err)]
	if status == 0 {
		s.log.Error("phone request failed", "session", se.id, "err", err)
		writeJSON(w, httpd.StatusInternalServerError, map[string]string{"error": "The router could not do that. Try again in a moment."})
		return
	}
	writeJSON(w, status, map[string]string{"error": capitalise(err.Error())})
}

// progressView is an onboarding's progress in plain words for the page.
type progressView struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Done  bool   `json:"done"`
	OK    bool   `json:"ok"`
	Title string `json:"title"`
	// Detail says what is happening or what went wrong; Hint what to try.
	Detail string `json:"detail"`
	Hint   string `json:"hint"`
}

func view(p api.Progress) progressView {
	v := progressView{ID: p.ID, State: p.State, Detail: capitalise(p.Step)}
	switch p.State {
	case "queued":
		v.Title = "Getting ready…"
		if v.Detail == "" {
			v.Detail = "Waiting for the router's Wi-Fi."
		}
	case "running":
		v.Title = "Talking to your device…"
	case "configured":
		v.Title = "Almost there…"
		v.Detail = "Your device has received its own Wi-Fi key and is connecting."
	case "connected":
		v.Title, v.Done, v.OK = "Done! Your device is connected", true, true
		v.Detail = "It has its own Wi-Fi key and its own place on your network."
	case "cancelled":
		v.Title, v.Done = "Stopped", true
		v.Detail = "Adding this device was stopped before it finished."
		v.Hint = "Put the device in pairing mode (see its manual), then scan its code again."
	default:
		v.Title, v.Done = "That did not work", true
		v.Detail, v.Hint = capitalise(p.Error), capitalise(p.Hint)
	}
	return v
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "…") {
		s += "."
	}
	return s
}

func writeJSON(w httpd.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
