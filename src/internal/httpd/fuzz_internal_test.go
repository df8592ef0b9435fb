package httpd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzReadRequest: no panic; what is refused is refused with a 4xx (or
// 501, 505); what is taken is well-formed, and net/http reads the same
// bytes as the same request with a body framed the same way, so that the
// two could never disagree on where the next request starts.
func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		"GET /p/abc HTTP/1.1\r\nHost: 192.168.1.1:8099\r\nCookie: tj_phone=x\r\n\r\n",
		"POST /api/onboard HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Type: application/json\r\n\r\n{}\r\nGET / HTTP/1.1\r\n",
		"POST /v1/onboard HTTP/1.1\r\nHost: trustjoin\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
		"GET /x?since=3 HTTP/1.0\r\n\r\n",
		"GET /0000\"00 HTTP/1.1\r\nHost: a\r\n\r\n",
		"HEAD /p/%41 HTTP/1.1\r\nHost: [fe80::1]:80\r\nExpect: 100-continue\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	const maxBody = 64
	f.Fuzz(func(t *testing.T, raw []byte) {
		br := bufio.NewReader(bytes.NewReader(raw))
		r, err := readRequest(br, 1<<10, maxBody)
		if err != nil {
			var re *requestError
			if errors.As(err, &re) && (re.status < 400 || re.status > 505 || StatusText(re.status) == "") {
				t.Fatalf("refused with %d", re.status)
			}
			return
		}
		if !isToken(r.Method) || !strings.HasPrefix(r.URL.Path, "/") || r.ContentLength < 0 || r.ContentLength > maxBody {
			t.Fatalf("took %q %q, length %d", r.Method, r.URL.Path, r.ContentLength)
		}
		if _, ok := r.Header["Transfer-Encoding"]; ok {
			t.Fatal("took a Transfer-Encoding")
		}
		for k, vs := range r.Header {
			for _, v := range vs {
				if !isToken(k) || strings.ContainsAny(v, "\r\n\x00") {
					t.Fatalf("took field %q: %q", k, v)
				}
			}
		}
		body, err := io.ReadAll(io.LimitReader(br, r.ContentLength))
		if err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(br)

		hr := bufio.NewReader(bytes.NewReader(raw))
		want, err := http.ReadRequest(hr)
		if err != nil {
			t.Fatalf("net/http refuses what was taken: %v", err)
		}
		wantBody, err := io.ReadAll(want.Body)
		if err != nil {
			if int64(len(body)) == r.ContentLength {
				t.Fatalf("net/http fails to read the body: %v", err)
			}
			return // a short body: both wait for more
		}
		wantRest, _ := io.ReadAll(hr)
		if want.Method != r.Method || want.RequestURI != r.RequestURI || want.Host != r.Host ||
			!bytes.Equal(wantBody, body) || !bytes.Equal(wantRest, rest) {
			t.Fatalf("read as %s %s host %q body %q rest %q; net/http %s %s host %q body %q rest %q",
				r.Method, r.URL, r.Host, body, rest, want.Method, want.RequestURI, want.Host, wantBody, wantRest)
		}
	})
}
