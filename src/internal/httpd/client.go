package httpd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A Response is a reply's status and fields as ReadResponse read them.
type Response struct {
	StatusCode int
	// Status is the code and the reason, "404 Not Found".
	Status string
	Header Header
	// Body reads the reply's body by its framing: Content-Length,
	// chunked, or up to the end of the connection.
	Body io.Reader
}

// maxResponseHead bounds a reply's status line and fields.
const maxResponseHead = 64 << 10

// ReadResponse reads a reply to a request with method from r, past any
// interim (1xx) replies.
func ReadResponse(r *bufio.Reader, method string) (*Response, error) {
	budget := maxResponseHead
	for {
		line, err := readLine(r, &budget)
		if err != nil {
			return nil, fmt.Errorf("bad reply: %w", noEOF(err))
		}
		proto, status, _ := strings.Cut(line, " ")
		code, _, _ := strings.Cut(status, " ")
		n, err := strconv.Atoi(code)
		if proto != "HTTP/1.1" && proto != "HTTP/1.0" || len(code) != 3 || err != nil || n < 100 {
			return nil, fmt.Errorf("bad reply: status line %q", clip(line))
		}
		h, err := readHeader(r, &budget)
		if err != nil {
			return nil, fmt.Errorf("bad reply: %w", noEOF(err))
		}
		if n == 101 {
			return nil, errors.New("bad reply: the server switched protocols")
		}
		if n < 200 {
			continue
		}
		resp := &Response{StatusCode: n, Status: status, Header: h}
		resp.Body, err = replyBody(r, method, n, h)
		if err != nil {
			return nil, fmt.Errorf("bad reply: %w", err)
		}
		return resp, nil
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// replyBody frames a reply's body (RFC 9112, 6.3).
func replyBody(r *bufio.Reader, method string, status int, h Header) (io.Reader, error) {
	if method == "HEAD" || status == 204 || status == 304 {
		return strings.NewReader(""), nil
	}
	if te := h["Transfer-Encoding"]; len(te) > 0 {
		if len(te) != 1 || !strings.EqualFold(strings.Trim(te[0], " \t"), "chunked") {
			return nil, fmt.Errorf("unsupported Transfer-Encoding %q", clip(strings.Join(te, ",")))
		}
		return &chunked{r: r}, nil
	}
	n, err := contentLength(h)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return r, nil // up to the end of the connection
	}
	return &exact{r: io.LimitReader(r, n), left: n}, nil
}

// exact reads a body of known length: an early end is an error.
type exact struct {
	r    io.Reader
	left int64
}

func (e *exact) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// chunked decodes the chunked transfer coding; trailers are read and
// dropped.
type chunked struct {
	r    *bufio.Reader
	left int64 // of the current chunk
	done bool
	err  error
}

func (c *chunked) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.done {
		return 0, io.EOF
	}
	if c.left == 0 {
		if c.err = c.next(); c.err != nil {
			return 0, c.err
		}
		if c.done {
			return 0, io.EOF
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		budget := 2
		if line, e := readLine(c.r, &budget); e != nil || line != "" {
			err = errors.New("chunk not followed by CRLF")
		}
	}
	if err != nil {
		c.err = noEOF(err)
	}
	return n, c.err
}

// next reads a chunk's size line; size 0 ends the body.
func (c *chunked) next() error {
	budget := 4 << 10
	line, err := readLine(c.r, &budget)
	if err != nil {
		return fmt.Errorf("bad chunk: %w", noEOF(err))
	}
	size, _, _ := strings.Cut(line, ";")
	size = strings.TrimRight(size, " \t")
	n, err := strconv.ParseUint(size, 16, 62)
	if err != nil || size == "" || strings.ContainsAny(size, "+-xX_") {
		return fmt.Errorf("bad chunk size %q", clip(line))
	}
	if n == 0 {
		if _, err := readHeader(c.r, &budget); err != nil {
			return fmt.Errorf("bad trailer: %w", noEOF(err))
		}
		c.done = true
		return nil
	}
	c.left = int64(n)
	return nil
}
