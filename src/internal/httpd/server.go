package httpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A Request is a request as the server read it. Its body has been
// announced by Content-Length and is read from the connection.
type Request struct {
	Method string
	// URL is the request target (origin form): Path and RawQuery;
	// RequestURI the target as sent.
	URL        *url.URL
	RequestURI string
	Proto      string // "HTTP/1.1" or "HTTP/1.0"
	Header     Header
	// Host is the Host field's value.
	Host string
	// RemoteAddr is the peer's address as its connection gives it.
	RemoteAddr string
	// TLS is set when the request came over TLS.
	TLS           *tls.ConnectionState
	ContentLength int64
	Body          io.Reader

	ctx    context.Context
	params map[string]string
}

// Context is the request's context, done when its handler returns or
// the server closes.
func (r *Request) Context() context.Context { return r.ctx }

// PathValue is the path segment the mux's pattern named {name}, unescaped.
func (r *Request) PathValue(name string) string { return r.params[name] }

// Cookie returns the value of the first cookie called name.
func (r *Request) Cookie(name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for _, part := range strings.Split(line, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				return strings.Trim(v, `"`), true
			}
		}
	}
	return "", false
}

// A ResponseWriter builds the reply to one request.
type ResponseWriter interface {
	Header() Header
	// WriteHeader sets the status; only the first call counts.
	WriteHeader(status int)
	Write([]byte) (int, error)
}

// A Handler answers requests.
type Handler interface {
	ServeHTTP(ResponseWriter, *Request)
}

// HandlerFunc is a function as a Handler.
type HandlerFunc func(ResponseWriter, *Request)

// ServeHTTP calls f.
func (f HandlerFunc) ServeHTTP(w ResponseWriter, r *Request) { f(w, r) }

// Error replies with a plain-text message.
func Error(w ResponseWriter, msg string, status int) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// Redirect replies with a redirection to location, a path on this server.
func Redirect(w ResponseWriter, location string, status int) {
	w.Header().Set("Location", location)
	w.WriteHeader(status)
}

// ConnState is where a connection stands, for Server.ConnState.
type ConnState int

// The states a connection goes through: StateIdle between requests.
const (
	StateNew ConnState = iota
	StateActive
	StateIdle
	StateClosed
)

// Defaults of the Server's bounds left zero.
const (
	DefaultMaxHeaderBytes = 16 << 10
	DefaultMaxBodyBytes   = 1 << 20
	defaultTimeout        = 30 * time.Second
)

// A Server serves HTTP/1.1 on listeners. Set its fields before Serve.
type Server struct {
	Handler Handler
	// ReadHeaderTimeout bounds the wait for a request's head once its
	// first byte came (the first request's from the connection's start);
	// ReadTimeout the whole request, body included; WriteTimeout the
	// handler and its reply; IdleTimeout the wait for a next request.
	// Zero means 30 s, except for WriteTimeout: none, as with net/http
	// (a handler may take its time; the API socket's do).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's head (request line and fields);
	// MaxBodyBytes its body. Zero means the defaults above.
	MaxHeaderBytes int
	MaxBodyBytes   int64
	// ConnState, if set, is told of each connection's changes.
	ConnState func(net.Conn, ConnState)

	mu        sync.Mutex
	listeners map[net.Listener]bool
	conns     map[*conn]bool
	closing   bool
	done      chan struct{} // closed by Close or Shutdown
	base      context.Context
	cancel    context.CancelFunc // ends base: Close
	wg        sync.WaitGroup
}

// ErrServerClosed is what Serve returns after Shutdown or Close.
var ErrServerClosed = errors.New("httpd: server closed")

func (s *Server) init() {
	if s.done == nil {
		s.done = make(chan struct{})
		s.listeners = map[net.Listener]bool{}
		s.conns = map[*conn]bool{}
		s.base, s.cancel = context.WithCancel(context.Background())
	}
}

// Serve accepts connections on l and serves each, until l fails or the
// server is shut down; it closes l.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	s.init()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of descriptors, for instance: wait a little.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
				case <-s.done:
				}
				continue
			}
			return err
		}
		backoff = 0
		c := &conn{s: s, nc: nc, waiting: true}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		s.setState(c, StateNew)
		go c.serve()
	}
}

// isTemporary reports accept errors worth trying again after (EMFILE,
// ENFILE, ECONNABORTED), as net/http does.
func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func (s *Server) setState(c *conn, st ConnState) {
	s.mu.Lock()
	c.waiting = st == StateNew || st == StateIdle
	s.mu.Unlock()
	if s.ConnState != nil {
		s.ConnState(c.nc, st)
	}
}

// idle marks c as waiting for its next request, unless the server is
// shutting down (and so will not close it): then it reports false and c
// ends.
func (s *Server) idle(c *conn) bool {
	s.mu.Lock()
	ok := !s.closing
	c.waiting = ok
	s.mu.Unlock()
	if ok && s.ConnState != nil {
		s.ConnState(c.nc, StateIdle)
	}
	return ok
}

// activate marks c busy with a request, unless the server is shutting
// down: then it reports false and c ends.
func (s *Server) activate(c *conn) bool {
	s.mu.Lock()
	ok := !s.closing
	c.waiting = !ok
	s.mu.Unlock()
	if ok && s.ConnState != nil {
		s.ConnState(c.nc, StateActive)
	}
	return ok
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.init()
	if !s.closing {
		s.closing = true
		close(s.done)
	}
	s.cancel()
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	return nil
}

// Shutdown closes the listeners and idle connections, lets requests in
// progress finish until ctx ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.init()
	if !s.closing {
		s.closing = true
		close(s.done)
	}
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		if c.waiting {
			c.nc.Close()
		}
	}
	s.mu.Unlock()
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

func (s *Server) timeout(d time.Duration) time.Duration {
	if d <= 0 {
		return defaultTimeout
	}
	return d
}

// conn is one connection being served.
type conn struct {
	s  *Server
	nc net.Conn
	// waiting for a request (new or idle), not in one: guarded by s.mu
	waiting bool
}

// A requestError is a request refused before its handler: the status and
// why, which is sent in the reply's body.
type requestError struct {
	status int
	why    string
}

func (e *requestError) Error() string { return e.why }

func refuse(status int, format string, args ...any) error {
	return &requestError{status: status, why: fmt.Sprintf(format, args...)}
}

func (c *conn) serve() {
	s := c.s
	defer func() {
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.setState(c, StateClosed)
		s.wg.Done()
	}()
	if tc, ok := c.nc.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(s.timeout(s.ReadHeaderTimeout)))
		if err := tc.Handshake(); err != nil {
			return
		}
	}
	br := bufio.NewReaderSize(c.nc, 4<<10)
	for first := true; ; first = false {
		// A next request must start within the idle timeout, and its head
		// come whole within the header timeout.
		if first {
			c.nc.SetReadDeadline(time.Now().Add(s.timeout(s.ReadHeaderTimeout)))
		} else {
			if !s.idle(c) {
				return
			}
			c.nc.SetReadDeadline(time.Now().Add(s.timeout(s.IdleTimeout)))
			if _, err := br.Peek(1); err != nil || !s.activate(c) {
				return
			}
			c.nc.SetReadDeadline(time.Now().Add(s.timeout(s.ReadHeaderTimeout)))
		}
		start := time.Now()
		req, err := c.readRequest(br)
		if err != nil {
			var re *requestError
			if errors.As(err, &re) {
				c.refuse(re)
				c.linger()
			}
			return
		}
		if first && !s.activate(c) {
			return
		}
		c.nc.SetReadDeadline(start.Add(s.timeout(s.ReadTimeout)))
		if s.WriteTimeout > 0 {
			c.nc.SetWriteDeadline(time.Now().Add(s.WriteTimeout))
		}
		if !c.handle(req, br) {
			c.linger()
			return
		}
	}
}

// linger ends the connection's sending side and reads what the client
// still sends, for a while, before the connection is closed: closing a
// socket with unread data resets it, and the client may then lose the
// reply that says what was wrong.
func (c *conn) linger() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	io.CopyN(io.Discard, c.nc, maxDrain)
}

// readRequest reads a request's head from the connection.
func (c *conn) readRequest(br *bufio.Reader) (*Request, error) {
	s := c.s
	maxHead := s.MaxHeaderBytes
	if maxHead <= 0 {
		maxHead = DefaultMaxHeaderBytes
	}
	r, err := readRequest(br, maxHead, s.maxBody())
	if err != nil {
		return nil, err
	}
	r.RemoteAddr = c.nc.RemoteAddr().String()
	if tc, ok := c.nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		r.TLS = &st
	}
	return r, nil
}

// readRequest reads a request's head, at most maxHead bytes, and checks
// it; its body may be up to maxBody bytes. A request refused gets a
// *requestError.
func readRequest(br *bufio.Reader, maxHead int, maxBody int64) (*Request, error) {
	budget := maxHead
	line, err := readLine(br, &budget)
	if err != nil {
		return nil, headError(err, "bad request line")
	}
	r, err := parseRequestLine(line)
	if err != nil {
		return nil, err
	}
	r.Header, err = readHeader(br, &budget)
	if err != nil {
		return nil, headError(err, "bad header")
	}
	if err := r.check(maxBody); err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Server) maxBody() int64 {
	if s.MaxBodyBytes <= 0 {
		return DefaultMaxBodyBytes
	}
	return s.MaxBodyBytes
}

// headError turns a failure to read a head into a refusal; a connection
// that failed or timed out gets none.
func headError(err error, what string) error {
	var ne net.Error
	switch {
	case errors.Is(err, errTooLong):
		return refuse(431, "request head too large")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ne):
		return err
	}
	return refuse(400, "%s: %v", what, err)
}

// parseRequestLine reads "METHOD /target HTTP/1.x".
func parseRequestLine(line string) (*Request, error) {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !isToken(method) || target == "" {
		return nil, refuse(400, "malformed request line")
	}
	switch proto {
	case "HTTP/1.1", "HTTP/1.0":
	default:
		if strings.HasPrefix(proto, "HTTP/") && !strings.ContainsAny(proto, " ") {
			return nil, refuse(505, "only HTTP/1.1 and HTTP/1.0 are served")
		}
		return nil, refuse(400, "malformed request line")
	}
	if target[0] != '/' {
		return nil, refuse(400, "the request target must be a path")
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return nil, refuse(400, "bad character in the request target")
		}
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, refuse(400, "bad request target")
	}
	return &Request{Method: method, URL: u, RequestURI: target, Proto: proto}, nil
}

// check applies the rules on a request's fields: one Host for HTTP/1.1,
// a body only with a Content-Length within max, no Transfer-Encoding, no
// expectation but 100-continue.
func (r *Request) check(max int64) error {
	h := r.Header
	switch hosts := h["Host"]; {
	case len(hosts) > 1:
		return refuse(400, "more than one Host field")
	case len(hosts) == 1:
		r.Host = hosts[0]
		if strings.ContainsAny(r.Host, " \t/\\@") {
			return refuse(400, "bad Host field")
		}
	case r.Proto == "HTTP/1.1":
		return refuse(400, "missing Host field")
	}
	if _, ok := h["Transfer-Encoding"]; ok {
		// Only Content-Length frames a request: with one framing there is
		// nothing for a proxy and this server to read differently.
		return refuse(501, "request bodies must have a Content-Length; Transfer-Encoding is not accepted")
	}
	n, err := contentLength(h)
	if err != nil {
		return refuse(400, "%v", err)
	}
	if n < 0 {
		n = 0
	}
	if n > max {
		return refuse(413, "request body larger than %d bytes", max)
	}
	r.ContentLength = n
	if e := h["Expect"]; len(e) > 0 && !(len(e) == 1 && strings.EqualFold(e[0], "100-continue")) {
		return refuse(417, "unsupported expectation")
	}
	return nil
}

// refuse answers a request refused before its handler and ends the
// connection.
func (c *conn) refuse(e *requestError) {
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	body := fmt.Sprintf("%d %s: %s\n", e.status, StatusText(e.status), e.why)
	fmt.Fprintf(c.nc, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		e.status, StatusText(e.status), len(body), body)
}

// maxDrain is how much of a body its handler left unread is read past to
// keep the connection; beyond it, the connection is closed.
const maxDrain = 256 << 10

// handle runs the handler for r and writes its reply; it reports whether
// the connection may carry another request.
func (c *conn) handle(r *Request, br *bufio.Reader) (keep bool) {
	body := &body{r: io.LimitReader(br, r.ContentLength)}
	if r.ContentLength > 0 && hasToken(r.Header, "Expect", "100-continue") {
		body.cont = c.nc
	}
	r.Body = body
	ctx, cancel := context.WithCancel(c.s.base)
	defer cancel()
	r.ctx = ctx
	keep = r.Proto == "HTTP/1.1" && !hasToken(r.Header, "Connection", "close") ||
		r.Proto == "HTTP/1.0" && hasToken(r.Header, "Connection", "keep-alive")
	c.s.mu.Lock()
	w := &response{header: Header{}, req: r, nc: c.nc, keep: keep && !c.s.closing}
	c.s.mu.Unlock()
	if !c.run(w, r) {
		// A handler that panicked: its reply may be half made.
		return false
	}
	if w.stream != nil {
		// Sent as written: the connection is kept only if the reply had
		// the length its head said and the head said to keep it.
		if w.err == nil {
			w.err = w.stream.Flush()
		}
		if w.err != nil || w.over || w.left != 0 || !w.keep {
			return false
		}
	}
	// What the handler did not read of the body is read past, if little;
	// a client still waiting to be told to send it is not waited for.
	if body.cont != nil {
		keep = false
	} else if body.err == nil {
		if n, err := io.CopyN(io.Discard, body.r, maxDrain+1); n > maxDrain || err != nil && err != io.EOF {
			keep = false
		}
	} else if !errors.Is(body.err, io.EOF) {
		keep = false
	}
	c.s.mu.Lock()
	keep = keep && !c.s.closing
	c.s.mu.Unlock()
	if w.stream != nil {
		return keep
	}
	if err := w.send(keep); err != nil {
		return false
	}
	return keep
}

// run calls the handler, reporting false if it panicked.
func (c *conn) run(w *response, r *Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			ok = false
		}
	}()
	c.s.Handler.ServeHTTP(w, r)
	return true
}

// body is a request's body: Content-Length bytes of the connection,
// preceded by "100 Continue" if the client waits for it.
type body struct {
	r    io.Reader
	cont io.Writer
	err  error
}

func (b *body) Read(p []byte) (int, error) {
	if b.cont != nil {
		if _, err := io.WriteString(b.cont, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			b.err = err
			return 0, err
		}
		b.cont = nil
	}
	n, err := b.r.Read(p)
	if err != nil && b.err == nil {
		b.err = err
	}
	return n, err
}

// response collects a reply, sent whole when the handler returns; or, if
// the handler gave it a Content-Length and it outgrows streamAbove, sent
// as it is written (a large asset is not held in memory once per
// connection).
type response struct {
	header Header
	req    *Request
	nc     net.Conn
	keep   bool // the connection may be kept, as far as the request goes
	status int
	buf    bytes.Buffer

	stream *bufio.Writer // once streaming
	left   int64         // of the Content-Length, still to write
	err    error         // the stream failed
	over   bool          // the handler wrote more than the length
}

// streamAbove is the size past which a reply with a length is streamed.
const streamAbove = 16 << 10

func (w *response) Header() Header { return w.header }

func (w *response) WriteHeader(status int) {
	if w.status == 0 && status >= 200 && status <= 999 {
		w.status = status
	}
}

func (w *response) Write(p []byte) (int, error) {
	w.WriteHeader(200)
	if !bodyAllowed(w.status) {
		return len(p), nil
	}
	if w.req.Method == "HEAD" {
		if n, err := contentLength(w.header); err == nil && n >= 0 {
			return len(p), nil // the length is known: nothing to keep
		}
	}
	if w.stream == nil && w.req.Method != "HEAD" && w.buf.Len()+len(p) > streamAbove {
		if n, err := contentLength(w.header); err == nil && n >= 0 {
			w.stream = bufio.NewWriterSize(w.nc, 4<<10)
			w.left = n
			w.err = w.writeHead(w.stream, n, w.keep)
			w.write(w.buf.Bytes())
			w.buf = bytes.Buffer{}
		}
	}
	if w.stream != nil {
		return w.write(p)
	}
	// Kept for HEAD too: its Content-Length is the one GET would have.
	return w.buf.Write(p)
}

// write streams p, within the Content-Length.
func (w *response) write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	var over error
	if int64(len(p)) > w.left {
		p = p[:w.left]
		over = errors.New("httpd: reply longer than its Content-Length")
		w.over = true
	}
	n, err := w.stream.Write(p)
	w.left -= int64(n)
	if err != nil {
		w.err = err
		return n, err
	}
	return n, over
}

func bodyAllowed(status int) bool { return status != 204 && status != 304 }

// send writes the status line, the fields and the buffered body.
func (w *response) send(keep bool) error {
	w.WriteHeader(200)
	var b bytes.Buffer
	length := int64(w.buf.Len())
	if n, err := contentLength(w.header); err == nil && n >= 0 && w.req.Method == "HEAD" {
		length = n
	}
	w.writeHead(&b, length, keep)
	if w.req.Method != "HEAD" {
		b.Write(w.buf.Bytes())
	}
	_, err := w.nc.Write(b.Bytes())
	return err
}

// writeHead writes the status line and the fields, with the body's length.
func (w *response) writeHead(out io.Writer, length int64, keep bool) error {
	h := w.header
	h.Del("Transfer-Encoding")
	h.Del("Connection")
	if bodyAllowed(w.status) {
		h.Set("Content-Length", strconv.FormatInt(length, 10))
	} else {
		h.Del("Content-Length")
	}
	switch {
	case !keep:
		h.Set("Connection", "close")
	case w.req.Proto == "HTTP/1.0":
		h.Set("Connection", "keep-alive")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", w.status, StatusText(w.status))
	if _, ok := h["Date"]; !ok {
		b.WriteString("Date: " + time.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT") + "\r\n")
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !isToken(k) {
			continue
		}
		for _, v := range h[k] {
			// A value with a line break would start a field of its own.
			v = strings.Map(func(r rune) rune {
				if r == '\r' || r == '\n' {
					return ' '
				}
				return r
			}, v)
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	_, err := out.Write(b.Bytes())
	return err
}
