package httpd_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/httpd"
)

// serve runs srv (a mux answering the test paths, if srv has no handler)
// on a loopback listener and returns its address.
func serve(t *testing.T, srv *httpd.Server) string {
	t.Helper()
	if srv.Handler == nil {
		mux := httpd.NewServeMux()
		mux.HandleFunc("GET /hello", func(w httpd.ResponseWriter, r *httpd.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello "+r.Host)
		})
		mux.HandleFunc("POST /echo", func(w httpd.ResponseWriter, r *httpd.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				httpd.Error(w, err.Error(), 400)
				return
			}
			w.Write(b)
		})
		mux.HandleFunc("POST /ignore", func(w httpd.ResponseWriter, r *httpd.Request) { w.WriteHeader(204) })
		mux.HandleFunc("GET /items/{id}", func(w httpd.ResponseWriter, r *httpd.Request) { io.WriteString(w, "item "+r.PathValue("id")) })
		mux.HandleFunc("DELETE /items/{id}", func(w httpd.ResponseWriter, r *httpd.Request) { io.WriteString(w, "gone "+r.PathValue("id")) })
		mux.HandleFunc("GET /items/{id}/name", func(w httpd.ResponseWriter, r *httpd.Request) { io.WriteString(w, "name of "+r.PathValue("id")) })
		mux.HandleFunc("GET /items/all", func(w httpd.ResponseWriter, r *httpd.Request) { io.WriteString(w, "all") })
		mux.HandleFunc("GET /{$}", func(w httpd.ResponseWriter, r *httpd.Request) { io.WriteString(w, "root") })
		mux.HandleFunc("GET /panic", func(w httpd.ResponseWriter, r *httpd.Request) { panic("handler bug") })
		mux.HandleFunc("/", func(w httpd.ResponseWriter, r *httpd.Request) { httpd.Error(w, "nothing at "+r.URL.Path, 404) })
		srv.Handler = mux
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, httpd.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

// exchange sends raw on a new connection and reads what comes back
// until the server closes it or wait passes.
func exchange(t *testing.T, addr, raw string, wait time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, raw)
	c.SetReadDeadline(time.Now().Add(wait))
	b, _ := io.ReadAll(c)
	return string(b)
}

// Each request, sent alone on its connection: the status the server
// answers, what its reply holds, and whether it closes the connection
// (keep-alive replies are read until a short deadline).
func TestRequests(t *testing.T) {
	addr := serve(t, &httpd.Server{MaxHeaderBytes: 1 << 10, MaxBodyBytes: 64})
	const host = "Host: r\r\n"
	tests := []struct {
		name, raw string
		status    string
		has       []string
		closes    bool
	}{
		{"get", "GET /hello HTTP/1.1\r\n" + host + "\r\n", "200 OK", []string{"Content-Length: 7\r\n", "\r\n\r\nhello r"}, false},
		{"head: the length of the get, no body", "HEAD /hello HTTP/1.1\r\n" + host + "\r\n", "200 OK", []string{"Content-Length: 7\r\n"}, false},
		{"connection close", "GET /hello HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n", "200 OK", []string{"Connection: close\r\n"}, true},
		{"http/1.0 closes", "GET /hello HTTP/1.0\r\n\r\n", "200 OK", []string{"Connection: close\r\n", "hello "}, true},
		{"http/1.0 keep-alive", "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "200 OK", []string{"Connection: keep-alive\r\n"}, false},
		{"post body", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nabcde", "200 OK", []string{"\r\n\r\nabcde"}, false},
		{"same length twice", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", "200 OK", []string{"\r\n\r\nabc"}, false},
		{"path value unescaped", "GET /items/a%20b HTTP/1.1\r\n" + host + "\r\n", "200 OK", []string{"item a b"}, false},
		{"literal before wildcard", "GET /items/all HTTP/1.1\r\n" + host + "\r\n", "200 OK", []string{"\r\n\r\nall"}, false},
		{"longer pattern", "GET /items/7/name HTTP/1.1\r\n" + host + "\r\n", "200 OK", []string{"name of 7"}, false},
		{"root only", "GET / HTTP/1.1\r\n" + host + "\r\n", "200 OK", []string{"root"}, false},
		{"fallback", "GET /nothing HTTP/1.1\r\n" + host + "\r\n", "404 Not Found", []string{"nothing at /nothing"}, false},
		{"dot step is no id", "GET /items/.. HTTP/1.1\r\n" + host + "\r\n", "404 Not Found", nil, false},
		{"escaped dot step is no id", "GET /items/%2e%2E HTTP/1.1\r\n" + host + "\r\n", "404 Not Found", nil, false},
		{"empty step is no id", "GET /items//name HTTP/1.1\r\n" + host + "\r\n", "404 Not Found", nil, false},
		{"method not allowed", "PUT /items/1 HTTP/1.1\r\n" + host + "\r\n", "405 Method Not Allowed", []string{"Allow: DELETE, GET, HEAD\r\n"}, false},
		{"body left unread", "POST /ignore HTTP/1.1\r\n" + host + "Content-Length: 3\r\n\r\nabc", "204 No Content", nil, false},
		{"expect 100-continue", "POST /echo HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok", "100 Continue", []string{"HTTP/1.1 200 OK\r\n", "\r\n\r\nok"}, false},

		{"bare LF", "GET /hello HTTP/1.1\n" + host + "\n", "400 Bad Request", []string{"CRLF"}, true},
		{"bare LF in a field", "GET /hello HTTP/1.1\r\nHost: r\nX: y\r\n\r\n", "400 Bad Request", nil, true},
		{"CR in a field", "GET /hello HTTP/1.1\r\nHost: r\rX: y\r\n\r\n", "400 Bad Request", nil, true},
		{"NUL in a field", "GET /hello HTTP/1.1\r\nHost: r\r\nX: a\x00b\r\n\r\n", "400 Bad Request", nil, true},
		{"no host", "GET /hello HTTP/1.1\r\n\r\n", "400 Bad Request", []string{"missing Host"}, true},
		{"two hosts", "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400 Bad Request", []string{"more than one Host"}, true},
		{"host with a path", "GET /hello HTTP/1.1\r\nHost: a/b\r\n\r\n", "400 Bad Request", nil, true},
		{"space before colon", "GET /hello HTTP/1.1\r\n" + host + "Content-Length : 5\r\n\r\nabcde", "400 Bad Request", []string{"malformed header"}, true},
		{"folded line", "GET /hello HTTP/1.1\r\n" + host + "X: a\r\n b\r\n\r\n", "400 Bad Request", []string{"folded"}, true},
		{"no colon", "GET /hello HTTP/1.1\r\n" + host + "X\r\n\r\n", "400 Bad Request", nil, true},
		{"chunked body", "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", "501 Not Implemented", []string{"Content-Length"}, true},
		{"chunked and length", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "501 Not Implemented", nil, true},
		{"lengths disagree", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "400 Bad Request", []string{"disagree"}, true},
		{"lengths disagree in one field", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 3, 4\r\n\r\nabcd", "400 Bad Request", nil, true},
		{"signed length", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: +3\r\n\r\nabc", "400 Bad Request", nil, true},
		{"negative length", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", "400 Bad Request", nil, true},
		{"hex length", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 0x3\r\n\r\nabc", "400 Bad Request", nil, true},
		{"huge length", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999\r\n\r\n", "400 Bad Request", nil, true},
		{"body too large", "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 65\r\n\r\n" + strings.Repeat("a", 65), "413 Content Too Large", nil, true},
		{"head too large", "GET /hello HTTP/1.1\r\n" + host + "X: " + strings.Repeat("a", 1<<10) + "\r\n\r\n", "431 Request Header Fields Too Large", nil, true},
		{"request line too long", "GET /" + strings.Repeat("a", 1<<10) + " HTTP/1.1\r\n" + host + "\r\n", "431 Request Header Fields Too Large", nil, true},
		{"http/2", "GET /hello HTTP/2.0\r\n" + host + "\r\n", "505 HTTP Version Not Supported", nil, true},
		{"http/0.9", "GET /hello\r\n\r\n", "400 Bad Request", nil, true},
		{"lower-case version", "GET /hello http/1.1\r\n" + host + "\r\n", "400 Bad Request", nil, true},
		{"absolute form", "GET http://r/hello HTTP/1.1\r\n" + host + "\r\n", "400 Bad Request", []string{"must be a path"}, true},
		{"asterisk", "OPTIONS * HTTP/1.1\r\n" + host + "\r\n", "400 Bad Request", nil, true},
		{"two spaces", "GET  /hello HTTP/1.1\r\n" + host + "\r\n", "400 Bad Request", nil, true},
		{"space in target", "GET /he llo HTTP/1.1\r\n" + host + "\r\n", "400 Bad Request", nil, true},
		{"bad escape", "GET /items/%zz HTTP/1.1\r\n" + host + "\r\n", "400 Bad Request", nil, true},
		{"method not a token", "G(T /hello HTTP/1.1\r\n" + host + "\r\n", "400 Bad Request", nil, true},
		{"other expectation", "POST /echo HTTP/1.1\r\n" + host + "Expect: 200-ok\r\nContent-Length: 1\r\n\r\na", "417 Expectation Failed", nil, true},
		{"handler panics", "GET /panic HTTP/1.1\r\n" + host + "\r\n", "", nil, true},
	}
	// After each request comes a second one, which asks to close: it is
	// answered only if the connection was kept.
	const next = "GET /items/NEXT HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exchange(t, addr, tt.raw+next, 10*time.Second)
			first, kept := got, strings.HasSuffix(got, "\r\n\r\nitem NEXT")
			if kept {
				first = got[:strings.LastIndex(got, "HTTP/1.1 200 OK\r\n")]
			}
			if kept != !tt.closes {
				t.Errorf("got %q: connection kept %v, want %v", got, kept, !tt.closes)
			}
			if tt.status == "" {
				if first != "" {
					t.Errorf("got a reply %q, want the connection closed", got)
				}
				return
			}
			if !strings.HasPrefix(first, "HTTP/1.1 "+tt.status+"\r\n") {
				t.Fatalf("got %q, want status %s", got, tt.status)
			}
			for _, h := range tt.has {
				if !strings.Contains(first, h) {
					t.Errorf("reply %q lacks %q", first, h)
				}
			}
			if closes := strings.Contains(first, "Connection: close\r\n"); closes != tt.closes {
				t.Errorf("reply %q: says close %v, want %v", first, closes, tt.closes)
			}
			if strings.HasPrefix(tt.raw, "HEAD") && strings.HasSuffix(first, "hello r") {
				t.Errorf("HEAD reply %q has a body", first)
			}
		})
	}
}

// Two requests in one write, and a smuggling attempt: the second request
// hidden in a body framed two ways is never served.
func TestPipelineAndSmuggling(t *testing.T) {
	addr := serve(t, &httpd.Server{})
	got := exchange(t, addr, "GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n", 5*time.Second)
	if strings.Count(got, "HTTP/1.1 200 OK") != 2 || !strings.Contains(got, "hello a") || !strings.HasSuffix(got, "hello b") {
		t.Errorf("pipelined: %q", got)
	}
	got = exchange(t, addr, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /items/smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(got, "HTTP/1.1 501 ") || strings.Contains(got, "smuggled") || strings.Count(got, "HTTP/1.1") != 1 {
		t.Errorf("smuggling: %q", got)
	}
}

// A client that sends its head slowly, or nothing, or sits idle after a
// reply, is cut off; the test waits for the close (EOF), and fails only
// if the connection is still open long after the timeouts.
func TestTimeouts(t *testing.T) {
	addr := serve(t, &httpd.Server{ReadHeaderTimeout: 100 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, IdleTimeout: 100 * time.Millisecond})
	for _, raw := range []string{
		"",                          // nothing at all
		"GET /hello HTTP/1.1\r\nHo", // a head that never ends
		"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",  // a body that never comes
		"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",                           // then idle
		"GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHos", // a second head that never ends
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, raw)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadAll(c)
		c.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%q: the connection is still open", raw)
		}
	}
}

// Shutdown closes idle connections at once and lets a request in progress
// finish.
func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	mux := httpd.NewServeMux()
	mux.HandleFunc("GET /slow", func(w httpd.ResponseWriter, r *httpd.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	mux.HandleFunc("GET /fast", func(w httpd.ResponseWriter, r *httpd.Request) { io.WriteString(w, "fast") })
	srv := &httpd.Server{Handler: mux}
	addr := serve(t, srv)
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(idle), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("fast: %v", err)
	}
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-started
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: %v, want it closed", err)
	}
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatalf("slow request: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "finished" || !resp.Close {
		t.Errorf("slow request: %q, close %v: want it finished and the connection closed", b, resp.Close)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// net/http's client talks to it: keep-alive, bodies, HEAD.
func TestNetHTTPClient(t *testing.T) {
	addr := serve(t, &httpd.Server{})
	c := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 3; i++ {
		resp, err := c.Post("http://"+addr+"/echo", "text/plain", strings.NewReader("round "+string(rune('0'+i))))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "round "+string(rune('0'+i)) {
			t.Errorf("echo %d: %q", i, b)
		}
	}
	resp, err := c.Head("http://" + addr + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len("hello "+addr)) {
		t.Errorf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
}

func TestCookie(t *testing.T) {
	r := &httpd.Request{Header: httpd.Header{"Cookie": {`a=1; tj="two"`, "b=3"}}}
	for name, want := range map[string]string{"a": "1", "tj": "two", "b": "3", "c": ""} {
		if got, ok := r.Cookie(name); got != want || ok != (want != "") {
			t.Errorf("cookie %s: %q %v, want %q", name, got, ok, want)
		}
	}
}

// A large reply with a length goes out as it is written; one that falls
// short of its length, or runs past it, ends the connection there.
func TestStreamedReplies(t *testing.T) {
	const size = 100 << 10
	mux := httpd.NewServeMux()
	write := func(n int) func(httpd.ResponseWriter, *httpd.Request) {
		return func(w httpd.ResponseWriter, r *httpd.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			chunk := []byte(strings.Repeat("x", 1000))
			for left := n; left > 0; left -= len(chunk) {
				w.Write(chunk[:min(left, len(chunk))])
			}
		}
	}
	mux.HandleFunc("GET /whole", write(size))
	mux.HandleFunc("GET /short", write(size/2))
	mux.HandleFunc("GET /long", write(2*size))
	mux.HandleFunc("GET /next", func(w httpd.ResponseWriter, r *httpd.Request) { io.WriteString(w, "next") })
	addr := serve(t, &httpd.Server{Handler: mux})
	for _, tt := range []struct {
		path string
		kept bool
	}{{"/whole", true}, {"/short", false}, {"/long", false}} {
		got := exchange(t, addr, "GET "+tt.path+" HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 10*time.Second)
		head, rest, _ := strings.Cut(got, "\r\n\r\n")
		after := strings.TrimLeft(rest, "x")
		xs := len(rest) - len(after)
		if !strings.Contains(head, "Content-Length: "+strconv.Itoa(size)) {
			t.Errorf("%s: head %q", tt.path, head)
		}
		if want := min(size, map[string]int{"/whole": size, "/short": size / 2, "/long": 2 * size}[tt.path]); xs != want {
			t.Errorf("%s: %d bytes of body, want %d", tt.path, xs, want)
		}
		if kept := strings.HasPrefix(after, "HTTP/1.1 200 OK\r\n") && strings.HasSuffix(after, "\r\n\r\nnext"); kept != tt.kept {
			t.Errorf("%s: connection kept %v, want %v (after the body: %q)", tt.path, kept, tt.kept, after)
		}
	}
}
