package httpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/trustjoin/trustjoin/src/internal/httpd"
)

// A Request is one request to send.
type Request struct {
	Method string
	// URL gives the path and query; its host is the Host field.
	URL    *url.URL
	Header httpd.Header
	// Body, if not nil, is sent with its length.
	Body []byte
}

// NewRequest returns a request for method and the absolute URL rawURL.
func NewRequest(method, rawURL string, body []byte) (*Request, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Host == "" {
		return nil, fmt.Errorf("httpc: no host in %q", rawURL)
	}
	return &Request{Method: method, URL: u, Header: httpd.Header{}, Body: body}, nil
}

// A Response is the reply; closing its body closes the connection.
type Response struct {
	httpd.Response
	Body io.ReadCloser
}

// Do sends req on conn, which it owns from then on, and returns the reply.
// Reading the reply's body reads conn; closing it closes conn. The request
// asks the server to close the connection after replying. When ctx ends
// first, the connection is closed and the error is the context's.
func Do(ctx context.Context, conn net.Conn, req *Request) (*Response, error) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*Response, error) {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if err := write(conn, req); err != nil {
		return fail(err)
	}
	resp, err := httpd.ReadResponse(bufio.NewReader(conn), req.Method)
	if err != nil {
		return fail(err)
	}
	return &Response{Response: *resp, Body: &body{r: resp.Body, ctx: ctx, conn: conn, stop: stop}}, nil
}

// write sends req's head and body. Field names and values with line
// breaks are refused: they would make fields of their own.
func write(conn net.Conn, req *Request) error {
	var b strings.Builder
	target := req.URL.RequestURI()
	if strings.ContainsAny(target, " \r\n") || strings.ContainsAny(req.URL.Host, " \r\n") || strings.ContainsAny(req.Method, " \r\n") {
		return errors.New("httpc: bad request line")
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, target, req.URL.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			if strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
				return fmt.Errorf("httpc: bad header field %q", k)
			}
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	if req.Body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(req.Body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	w := bufio.NewWriter(conn)
	w.WriteString(b.String())
	w.Write(req.Body)
	return w.Flush()
}

// body closes the connection with the reply's body.
type body struct {
	r    io.Reader
	ctx  context.Context
	conn net.Conn
	stop func() bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && b.ctx.Err() != nil {
		err = b.ctx.Err()
	}
	return n, err
}

func (b *body) Close() error {
	b.stop()
	return b.conn.Close()
}
