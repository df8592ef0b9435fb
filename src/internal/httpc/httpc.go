package httpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// Do sends req on conn, which it owns from then on, and returns the reply.
// Reading the reply's body reads conn; closing it closes conn. The request
// asks the server to close the connection after replying; its body, if
// any, must have a known length. When req's
// context ends first, the connection is closed and the error is the
// context's.
func Do(conn net.Conn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*http.Response, error) {
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
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return fail(err)
	}
	resp.Body = &body{ReadCloser: resp.Body, ctx: ctx, conn: conn, stop: stop}
	return resp, nil
}

// write sends req's head and body. By hand rather than with req.Write,
// which would bring internationalised host names into the binary (0.1 MB
// of Unicode tables); the hosts here are addresses, ASCII names and the
// API socket's placeholder.
func write(conn net.Conn, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if req.Body != nil && req.ContentLength < 0 {
		return errors.New("httpc: request body of unknown length")
	}
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, req.URL.RequestURI(), host)
	if err := req.Header.Write(w); err != nil {
		return err
	}
	if req.Body != nil {
		fmt.Fprintf(w, "Content-Length: %d\r\n", req.ContentLength)
	}
	w.WriteString("Connection: close\r\n\r\n")
	if req.Body != nil {
		if _, err := io.CopyN(w, req.Body, req.ContentLength); err != nil {
			return fmt.Errorf("httpc: request body: %w", err)
		}
	}
	return w.Flush()
}

// body closes the connection with the reply's body.
type body struct {
	io.ReadCloser
	ctx  context.Context
	conn net.Conn
	stop func() bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && b.ctx.Err() != nil {
		err = b.ctx.Err()
	}
	return n, err
}

func (b *body) Close() error {
	b.stop()
	b.ReadCloser.Close()
	return b.conn.Close()
}
