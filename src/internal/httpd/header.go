package httpd

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Header is a message's header fields, by canonical name
// (CanonicalKey).
type Header map[string][]string

// Get returns the first value of the field key.
func (h Header) Get(key string) string {
	if v := h[CanonicalKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Values returns every value of the field key.
func (h Header) Values(key string) []string { return h[CanonicalKey(key)] }

// Set replaces the field key's values with value.
func (h Header) Set(key, value string) { h[CanonicalKey(key)] = []string{value} }

// Add appends value to the field key.
func (h Header) Add(key, value string) {
	k := CanonicalKey(key)
	h[k] = append(h[k], value)
}

// Del removes the field key.
func (h Header) Del(key string) { delete(h, CanonicalKey(key)) }

// CanonicalKey writes a field name as net/http does: the first letter and
// every letter after a hyphen upper case, the rest lower case. A name that
// is not a token is returned as it is.
func CanonicalKey(s string) string {
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return s
		}
	}
	b := []byte(s)
	upper := true
	for i, c := range b {
		switch {
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
		upper = c == '-'
	}
	return string(b)
}

// isTchar reports whether c may be in a token (RFC 9110, 5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

// errTooLong: a head larger than allowed.
var errTooLong = errors.New("message head too large")

// readLine reads one line ending in CRLF, without it, counting its bytes
// against *budget. A bare LF or a CR elsewhere than before the LF is an
// error.
func readLine(r *bufio.Reader, budget *int) (string, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		*budget -= len(frag)
		if *budget < 0 {
			return "", errTooLong
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	n := len(line)
	if n < 2 || line[n-2] != '\r' {
		return "", errors.New("line not ended by CRLF")
	}
	line = line[:n-2]
	for _, c := range line {
		if c == '\r' || c == 0 {
			return "", errors.New("control character in the message head")
		}
	}
	return string(line), nil
}

// readHeader reads header fields up to the empty line that ends them.
func readHeader(r *bufio.Reader, budget *int) (Header, error) {
	h := Header{}
	for {
		line, err := readLine(r, budget)
		if err != nil {
			return nil, err
		}
		if line == "" {
			return h, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, errors.New("folded header line")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return nil, fmt.Errorf("malformed header line %q", clip(line))
		}
		value = strings.Trim(value, " \t")
		for i := 0; i < len(value); i++ {
			if c := value[i]; c < ' ' && c != '\t' || c == 0x7f {
				return nil, fmt.Errorf("control character in header %s", name)
			}
		}
		if len(h) >= maxFields {
			return nil, errTooLong
		}
		h.Add(name, value)
	}
}

// maxFields bounds the distinct header fields of a message.
const maxFields = 100

// clip shortens text quoted in an error.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// contentLength reads the Content-Length fields of h: -1 if there is
// none; several must agree.
func contentLength(h Header) (int64, error) {
	vs := h["Content-Length"]
	if len(vs) == 0 {
		return -1, nil
	}
	var n int64 = -1
	for _, v := range vs {
		for _, part := range strings.Split(v, ",") {
			part = strings.Trim(part, " \t")
			if part == "" || strings.TrimLeft(part, "0123456789") != "" || len(part) > 18 {
				return 0, fmt.Errorf("bad Content-Length %q", clip(v))
			}
			m, _ := strconv.ParseInt(part, 10, 64)
			if n >= 0 && m != n {
				return 0, errors.New("Content-Length fields disagree")
			}
			n = m
		}
	}
	return n, nil
}

// hasToken reports whether the comma-separated field key of h lists
// token, ignoring case.
func hasToken(h Header, key, token string) bool {
	for _, v := range h[key] {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.Trim(t, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// StatusText is the reason phrase of the status codes trustjoin sends.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 411:
		return "Length Required"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 417:
		return "Expectation Failed"
	case 421:
		return "Misdirected Request"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}

// Status codes trustjoin's handlers use.
const (
	StatusOK                  = 200
	StatusAccepted            = 202
	StatusMovedPermanently    = 301
	StatusFound               = 302
	StatusSeeOther            = 303
	StatusTemporaryRedirect   = 307
	StatusPermanentRedirect   = 308
	StatusBadRequest          = 400
	StatusForbidden           = 403
	StatusNotFound            = 404
	StatusMethodNotAllowed    = 405
	StatusConflict            = 409
	StatusGone                = 410
	StatusMisdirectedRequest  = 421
	StatusTooManyRequests     = 429
	StatusInternalServerError = 500
	StatusServiceUnavailable  = 503
	StatusGatewayTimeout      = 504
)
