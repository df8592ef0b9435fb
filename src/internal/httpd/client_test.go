package httpd_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/httpd"
)

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name, raw, method string
		status            int
		body              string
		bad               bool // ReadResponse or reading the body fails
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", "GET", 200, "abc", false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n", "GET", 200, "abc0123456789", false},
		{"chunked wins over length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", "GET", 200, "ab", false},
		{"to the end", "HTTP/1.0 404 Not Found\r\n\r\nall of it", "GET", 404, "all of it", false},
		{"interim reply first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", "POST", 201, "ok", false},
		{"no body for head", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", "HEAD", 200, "", false},
		{"no body for 204", "HTTP/1.1 204 No Content\r\n\r\nxyz", "GET", 204, "", false},
		{"no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET", 200, "", false},

		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "GET", 0, "", true},
		{"truncated chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "GET", 0, "", true},
		{"chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n", "GET", 0, "", true},
		{"no last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", "GET", 0, "", true},
		{"signed chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+2\r\nab\r\n0\r\n\r\n", "GET", 0, "", true},
		{"huge chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nab\r\n0\r\n\r\n", "GET", 0, "", true},
		{"gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "GET", 0, "", true},
		{"lengths disagree", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "GET", 0, "", true},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "GET", 0, "", true},
		{"switching protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", "GET", 0, "", true},
		{"not http", "SSH-2.0-OpenSSH\r\n\r\n", "GET", 0, "", true},
		{"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", "GET", 0, "", true},
		{"head too large", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", "GET", 0, "", true},
		{"nothing", "", "GET", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := httpd.ReadResponse(bufio.NewReader(strings.NewReader(tt.raw)), tt.method)
			var b []byte
			if err == nil {
				b, err = io.ReadAll(resp.Body)
			}
			if tt.bad {
				if err == nil {
					t.Errorf("read %d %q, want an error", resp.StatusCode, b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || string(b) != tt.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, b, tt.status, tt.body)
			}
		})
	}
}

// FuzzReadResponse: no panic, and a reply read whole is read as net/http
// reads it (status and body), where net/http reads it too.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\nrest",
		"HTTP/1.1 302 Found\r\nLocation: https://x/\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		resp, err := httpd.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), "GET")
		if err != nil {
			return
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, int64(len(raw))+1))
		if err != nil {
			return
		}
		if len(b) > len(raw) {
			t.Fatalf("a body of %d bytes from %d", len(b), len(raw))
		}
		// net/http's ReadResponse returns interim replies (its Transport
		// reads on).
		want, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), &http.Request{Method: "GET"})
		if err != nil || want.StatusCode < 200 {
			return
		}
		wb, err := io.ReadAll(want.Body)
		if err != nil {
			return
		}
		if want.StatusCode != resp.StatusCode || !bytes.Equal(wb, b) {
			t.Fatalf("read %d %q, net/http %d %q", resp.StatusCode, b, want.StatusCode, wb)
		}
	})
}
