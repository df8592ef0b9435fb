package hostapd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors callers test for.
var (
	// ErrFail: hostapd answered "FAIL".
	ErrFail = errors.New("hostapd answered FAIL")
	// ErrUnknownCommand: this hostapd does not know the command, usually
	// because it was built without the feature (e.g. DPP).
	ErrUnknownCommand = errors.New("hostapd does not know the command")
	// ErrUnavailable: hostapd's control socket does not answer (hostapd is
	// not running or is restarting).
	ErrUnavailable = errors.New("hostapd is not reachable")
)

// maxReply is larger than any reply hostapd sends (its buffer is 4 KiB),
// so a reply that fills it is known to be truncated.
const maxReply = 16 << 10

// DefaultTimeout bounds a command when the context has no deadline.
const DefaultTimeout = 3 * time.Second

// socketPrefix names trustjoin's client sockets so that ones left behind by
// a killed daemon can be recognised and removed.
const socketPrefix = "trustjoin-"

var socketSeq atomic.Uint64

// A Client is one connection to a BSS's control socket. Commands are
// serialised: hostapd answers one request at a time per socket.
type Client struct {
	iface, ctrlDir, localDir string
	mu                       sync.Mutex
	conn                     *net.UnixConn
	local                    string
}

// Dial connects to the control socket of iface in ctrlDir (e.g.
// /var/run/hostapd), binding a client socket in localDir.
func Dial(ctrlDir, iface, localDir string) (*Client, error) {
	conn, local, err := dial(ctrlDir, iface, localDir)
	if err != nil {
		return nil, err
	}
	return &Client{iface: iface, ctrlDir: ctrlDir, localDir: localDir, conn: conn, local: local}, nil
}

func dial(ctrlDir, iface, localDir string) (*net.UnixConn, string, error) {
	if localDir == "" {
		localDir = os.TempDir()
	}
	removeStaleSockets(localDir)
	local := filepath.Join(localDir, fmt.Sprintf("%s%d-%d", socketPrefix, os.Getpid(), socketSeq.Add(1)))
	os.Remove(local)
	laddr := &net.UnixAddr{Name: local, Net: "unixgram"}
	raddr := &net.UnixAddr{Name: filepath.Join(ctrlDir, iface), Net: "unixgram"}
	conn, err := net.DialUnix("unixgram", laddr, raddr)
	if err != nil {
		os.Remove(local)
		return nil, "", fmt.Errorf("hostapd: %s: %w: %v", iface, ErrUnavailable, err)
	}
	return conn, local, nil
}

// removeStaleSockets deletes client sockets of trustjoin processes that no
// longer exist; hostapd would otherwise keep trying to send to them.
func removeStaleSockets(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, socketPrefix+"*-*"))
	for _, m := range matches {
		pidStr, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(m), socketPrefix), "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			os.Remove(m)
		}
	}
}

// Iface is the BSS interface the client talks to.
func (c *Client) Iface() string { return c.iface }

// Close closes the connection and removes the client socket.
func (c *Client) Close() error {
	err := c.conn.Close()
	os.Remove(c.local)
	return err
}

// Command sends cmd and returns hostapd's reply, without its trailing
// newline. Errors name the interface and the command's first word only:
// arguments may carry secrets (pass=, code=, key=). A command holding
// anything but printable ASCII is refused (ErrArgument) and never sent;
// build commands with values from outside with PKEXAdd and QRCode.
func (c *Client) Command(ctx context.Context, cmd string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := request(ctx, c.conn, c.iface, cmd)
	if errors.Is(err, context.DeadlineExceeded) {
		// hostapd may still answer (a busy one does, seconds late), and on
		// this socket its reply would be read as the next command's: a
		// DPP_QR_CODE answered "OK". A fresh socket leaves it behind.
		if conn, local, derr := dial(c.ctrlDir, c.iface, c.localDir); derr == nil {
			c.conn.Close()
			os.Remove(c.local)
			c.conn, c.local = conn, local
		}
	}
	return r, err
}

func verb(cmd string) string {
	v, _, _ := strings.Cut(cmd, " ")
	return v
}

func request(ctx context.Context, conn *net.UnixConn, iface, cmd string) (string, error) {
	if err := checkCommand(cmd); err != nil {
		return "", fmt.Errorf("hostapd: %s: %s: refused: %w", iface, verb(cmd), err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return "", err
	}
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return "", fmt.Errorf("hostapd: %s: %s: %w: %v", iface, verb(cmd), ErrUnavailable, err)
	}
	buf := make([]byte, maxReply)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(deadline) {
				return "", fmt.Errorf("hostapd: %s: %s: no answer: %w", iface, verb(cmd), context.DeadlineExceeded)
			}
			return "", fmt.Errorf("hostapd: %s: %s: %w: %v", iface, verb(cmd), ErrUnavailable, err)
		}
		msg := string(buf[:n])
		// An attached socket interleaves events with replies; an event
		// always starts with "<N>", a reply never does.
		if len(msg) > 2 && msg[0] == '<' && strings.IndexByte(msg[:min(len(msg), 5)], '>') > 0 {
			continue
		}
		if n == len(buf) {
			return "", fmt.Errorf("hostapd: %s: %s: reply larger than %d bytes", iface, verb(cmd), maxReply)
		}
		reply := strings.TrimRight(msg, "\n")
		switch reply {
		case "FAIL":
			return "", fmt.Errorf("hostapd: %s: %s: %w", iface, verb(cmd), ErrFail)
		case "UNKNOWN COMMAND":
			return "", fmt.Errorf("hostapd: %s: %s: %w", iface, verb(cmd), ErrUnknownCommand)
		}
		return reply, nil
	}
}

// Ping checks that hostapd answers.
func (c *Client) Ping(ctx context.Context) error {
	r, err := c.Command(ctx, "PING")
	if err != nil {
		return err
	}
	if r != "PONG" {
		return fmt.Errorf("hostapd: %s: PING answered %q", c.iface, r)
	}
	return nil
}

// ParseKV parses a key=value-per-line reply such as STATUS or GET_CONFIG.
func ParseKV(reply string) map[string]string {
	m := make(map[string]string)
	for _, l := range strings.Split(reply, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// DPPSupport says whether and how well a hostapd speaks DPP.
type DPPSupport struct {
	Supported bool
	Version   int
}

// Capabilities asks hostapd whether it was built with DPP. A hostapd
// without DPP answers FAIL or does not know the command; that is reported
// as unsupported, not as an error.
func (c *Client) Capabilities(ctx context.Context) (DPPSupport, error) {
	r, err := c.Command(ctx, "GET_CAPABILITY dpp")
	switch {
	case errors.Is(err, ErrFail), errors.Is(err, ErrUnknownCommand):
		return DPPSupport{}, nil
	case err != nil:
		return DPPSupport{}, err
	}
	v, ok := strings.CutPrefix(r, "DPP=")
	if !ok {
		return DPPSupport{}, nil
	}
	n, _ := strconv.Atoi(v)
	return DPPSupport{Supported: n > 0, Version: n}, nil
}
