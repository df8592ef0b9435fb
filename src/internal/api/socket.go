package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	pathpkg "path"
	"path/filepath"
	"strings"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/httpc"
	"github.com/trustjoin/trustjoin/src/internal/httpd"
	"golang.org/x/net/netutil"
)

// API socket bounds: connections at once, and how long a keep-alive
// connection may sit idle.
const maxAPIConns = 32

var apiIdleTimeout = 30 * time.Second // a variable for tests

// A SocketServer serves the API on a root-only UNIX socket. It is a daemon
// task.
type SocketServer struct {
	log   *slog.Logger
	path  string
	h     httpd.Handler
	ready chan struct{}
}

// NewSocketServer returns a task serving h on the UNIX socket at path.
func NewSocketServer(log *slog.Logger, path string, h httpd.Handler) *SocketServer {
	return &SocketServer{log: log, path: path, h: h, ready: make(chan struct{})}
}

// String implements the daemon's Task.
func (s *SocketServer) String() string { return "api " + s.path }

// Ready implements the daemon's Task.
func (s *SocketServer) Ready() <-chan struct{} { return s.ready }

// Run implements the daemon's Task.
func (s *SocketServer) Run(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("failed to create the API socket's directory: %v", err)
	}
	// A socket left by a daemon that was killed would make Listen fail.
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to remove stale API socket: %v", err)
	}
	// Create the socket root-only from the start: no window in which
	// another user could connect.
	old := umask(0o177)
	l, err := net.Listen("unix", s.path)
	umask(old)
	if err != nil {
		return fmt.Errorf("failed to listen on the API socket: %v", err)
	}
	// Its clients are root's (the CLI, rpcd for LuCI and TR-069), but a
	// client that hangs must not hold a connection, nor many clients all
	// the daemon's descriptors: idle keep-alive connections close, and
	// past maxAPIConns a new one waits for a place.
	srv := &httpd.Server{
		Handler:           s.h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       apiIdleTimeout,
		MaxBodyBytes:      maxBody,
	}
	errC := make(chan error, 1)
	go func() { errC <- srv.Serve(netutil.LimitListener(l, maxAPIConns)) }()
	close(s.ready)
	s.log.Debug("API listening", "socket", s.path)

	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		os.Remove(s.path)
		return nil
	case err := <-errC:
		return fmt.Errorf("API server stopped: %v", err)
	}
}

// A Client calls the API over its UNIX socket, for the CLI and the rpcd
// plugin: one connection per call.
type Client struct {
	path string
}

// NewClient returns a client for the API socket at path.
func NewClient(path string) *Client {
	// One request per connection (httpc), which follows no redirects: a
	// redirect never turns into another call.
	return &Client{path: path}
}

// ErrDaemonDown reports that no daemon answers on the socket.
var ErrDaemonDown = errors.New("the trustjoin daemon is not running")

// ErrPermission reports that the caller may not use the socket: it is
// root's.
var ErrPermission = errors.New("permission denied")

// Do calls method on path with body (nil for none) and decodes the JSON
// reply into out (nil to discard). A reply with an error status becomes an
// error carrying the daemon's message.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = b
	}
	if p, _, _ := strings.Cut(path, "?"); pathpkg.Clean(p) != p {
		// "." and ".." are path steps, never an id or a name (the server
		// answers 404 for them): say so before asking.
		msg := fmt.Sprintf("no such API call: %s %s", method, path)
		for _, step := range strings.Split(p, "/") {
			if step == "." || step == ".." {
				msg = fmt.Sprintf("%q is not an id or a name", step)
			}
		}
		return &Error{Status: httpd.StatusNotFound, Message: msg}
	}
	req, err := httpc.NewRequest(method, "http://trustjoin"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.path)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("%w: the daemon's socket %s is root's: run this as root", ErrPermission, c.path)
		}
		return fmt.Errorf("%w (no answer on %s): start it with /etc/init.d/trustjoin start", ErrDaemonDown, c.path)
	}
	resp, err := httpc.Do(ctx, conn, req)
	if err != nil {
		return fmt.Errorf("failed to reach the trustjoin daemon: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("failed to read the daemon's reply: %v", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return &Error{Status: resp.StatusCode, Message: e.Error}
		}
		return &Error{Status: resp.StatusCode, Message: resp.Status}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("failed to decode the daemon's reply: %v", err)
	}
	return nil
}

// Error is an error reply from the daemon.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }
