package httpc_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/httpc"
)

func dial(t *testing.T, srv *httptest.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A real net/http server: requests arrive whole and marked for closing,
// replies come back whole, in both framings.
func TestDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !r.Close {
			http.Error(w, "connection not marked for closing", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Got", r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Content-Type")+" "+string(b))
		if r.URL.Path == "/chunked" {
			w.Write([]byte("one "))
			w.(http.Flusher).Flush()
		}
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte("two"))
	}))
	defer srv.Close()
	for _, path := range []string{"/plain?x=1", "/chunked"} {
		req, _ := httpc.NewRequest("POST", "http://trustjoin"+path, []byte(`{"a":1}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpc.Do(context.Background(), dial(t, srv), req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := "POST " + path + ` application/json {"a":1}`
		if got := resp.Header.Get("X-Got"); got != want {
			t.Errorf("server got %q, want %q", got, want)
		}
		if path == "/chunked" {
			if string(b) != "one two" || resp.Header.Get("Transfer-Encoding") != "chunked" {
				t.Errorf("chunked reply %d %q %v", resp.StatusCode, b, resp.Header)
			}
		} else if resp.StatusCode != http.StatusCreated || string(b) != "two" {
			t.Errorf("reply %d %q", resp.StatusCode, b)
		}
	}
}

// A server that accepts and never answers: the context ends the call,
// with its own error, and the connection is closed.
func TestDoContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	closed := make(chan error, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				r := bufio.NewReader(c)
				req, err := http.ReadRequest(r)
				if err == nil && req.URL.Path == "/body" {
					// Headers, then a body that never comes.
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
				}
				_, err = io.Copy(io.Discard, r) // until the client closes
				closed <- err
			}()
		}
	}()
	for _, path := range []string{"/headers", "/body"} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		req, _ := httpc.NewRequest("GET", "http://x"+path, nil)
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			resp, err := httpc.Do(ctx, c, req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
			}
			done <- err
		}()
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the call goes on after its context ended", path)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want the context's deadline", path, err)
		}
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the connection stays open", path)
		}
		cancel()
	}
}
