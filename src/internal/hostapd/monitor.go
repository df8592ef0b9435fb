package hostapd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// A Monitor keeps a BSS's control connection alive and its event stream
// attached. hostapd loses all runtime state (DPP configurator, bootstrap
// entries, listen) when it restarts, and drops listeners that stop
// reading; the Monitor notices either, reconnects, and calls OnConnect so
// the owner can re-apply what it owns.
type Monitor struct {
	// Iface, CtrlDir and LocalDir locate the sockets (see Dial).
	Iface, CtrlDir, LocalDir string
	Log                      *slog.Logger
	// OnConnect runs after every (re)connection, before events flow.
	OnConnect func(ctx context.Context, c *Client) error
	// OnEvent receives every event, in order. It must not block for long:
	// hostapd drops listeners whose socket fills up.
	OnEvent func(Event)
	// OnDisconnect runs when a connection ends, and when OnConnect failed
	// (it may have marked hostapd up before it failed).
	OnDisconnect func()
	// ReconnectWait bounds how long Wait waits for hostapd to come back;
	// zero means DefaultReconnectWait.
	ReconnectWait time.Duration

	mu     sync.Mutex
	client *Client
	// up is closed when a connection is set up, and replaced when it ends.
	up chan struct{}
	// waitUntil is how long Wait may wait for the next connection: the
	// reconnection window after a loss (or the monitor's start), renewed when a
	// dial succeeds (hostapd is there, being set up).
	waitUntil time.Time
	ready     chan struct{}
	once      sync.Once
}

// DefaultReconnectWait is how long after losing hostapd a caller of Wait
// waits for it to come back. hostapd that missed PINGs while busy, or
// was restarted by procd or netifd, is back and set up within a second
// or two; one gone for longer is down, and a householder pressing "Add
// device" should hear so at once rather than after a wait.
const DefaultReconnectWait = 5 * time.Second

// retryEvery is how often a down hostapd is retried: within the 2 s the
// product promises for recovering after a restart.
const retryEvery = 250 * time.Millisecond

// pingEvery is how often a quiet connection is checked, and deadAfter how
// long hostapd may stay silent before it counts as gone. A hostapd that
// exited or restarted is noticed sooner, by the PING's write failing (its
// socket is closed) or, with a PING unanswered, by its socket each second
// (stillThere); deadAfter only judges one that is there but silent,
// and that is usually busy: it blocks while it derives every passphrase
// of a PSK file (PBKDF2, 4096 rounds each) on RELOAD_WPA_PSK, which the
// onboarding engine allows 20 s on a slow router with many devices, and
// OpenWrt's hostapd was seen silent for over 5 s while it removed a
// device's interfaces. Reconnecting to a busy hostapd gains nothing and
// loses the events it sends meanwhile, so it gets as long as a reload.
const (
	pingEvery = time.Second
	deadAfter = 20 * time.Second
)

func (m *Monitor) String() string { return "hostapd " + m.Iface }

// Ready is closed after the first successful connection.
func (m *Monitor) Ready() <-chan struct{} {
	m.once.Do(func() { m.ready = make(chan struct{}) })
	return m.ready
}

// Wait returns once hostapd is connected and set up (OnConnect done).
// While it is being reconnected to, less than ReconnectWait after the
// connection was lost, it waits for it, until then or until ctx ends; a
// hostapd gone for longer (no socket, or nobody reading it) fails at
// once. Errors wrap ErrUnavailable.
func (m *Monitor) Wait(ctx context.Context) error {
	m.mu.Lock()
	m.initLocked()
	c, up, until := m.client, m.up, m.waitUntil
	m.mu.Unlock()
	if c != nil {
		return nil
	}
	left := time.Until(until)
	if left <= 0 {
		return fmt.Errorf("hostapd: %s: %w", m.Iface, ErrUnavailable)
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("hostapd: %s: %w: %w", m.Iface, ErrUnavailable, ctx.Err())
	case <-t.C:
		return fmt.Errorf("hostapd: %s: %w (not back within %s)", m.Iface, ErrUnavailable, m.reconnectWait())
	}
}

func (m *Monitor) reconnectWait() time.Duration {
	if m.ReconnectWait > 0 {
		return m.ReconnectWait
	}
	return DefaultReconnectWait
}

// initLocked makes up, and opens the first window (a monitor about to
// run is starting); m.mu is held.
func (m *Monitor) initLocked() {
	if m.up == nil {
		m.up = make(chan struct{})
		m.waitUntil = time.Now().Add(m.reconnectWait())
	}
}

// waitFromNow opens a reconnection window for Wait; m.mu is held.
func (m *Monitor) waitFromNow() {
	m.initLocked()
	m.waitUntil = time.Now().Add(m.reconnectWait())
}

// Command runs cmd on the current connection, or fails at once with
// ErrUnavailable while hostapd is down (Wait waits for it).
func (m *Monitor) Command(ctx context.Context, cmd string) (string, error) {
	m.mu.Lock()
	c := m.client
	m.mu.Unlock()
	if c == nil {
		return "", fmt.Errorf("hostapd: %s: %s: %w", m.Iface, verb(cmd), ErrUnavailable)
	}
	return c.Command(ctx, cmd)
}

// Run implements the daemon's Task.
func (m *Monitor) Run(ctx context.Context) error {
	m.Ready()
	log := m.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(discard{}, nil))
	}
	log = log.With("iface", m.Iface)
	// Requests arriving as the daemon starts wait for the first connection
	// (from the first Wait, if one came before Run).
	m.mu.Lock()
	m.initLocked()
	m.mu.Unlock()
	down := false
	for ctx.Err() == nil {
		connected, err := m.session(ctx, log)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, os.ErrPermission) {
			return err
		}
		// Each loss after a connection is said once, not only the first.
		if connected {
			down = false
		}
		if !down {
			log.Warn("hostapd connection lost, reconnecting", "err", err)
			down = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(retryEvery):
		}
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// session runs one connection until it fails or ctx ends; connected
// says whether it got as far as hostapd connected.
func (m *Monitor) session(ctx context.Context, log *slog.Logger) (connected bool, err error) {
	c, err := Dial(m.CtrlDir, m.Iface, m.LocalDir)
	if err != nil {
		return connected, err
	}
	defer c.Close()
	// hostapd is there again (after a long absence too): callers wait
	// while it is set up.
	m.mu.Lock()
	m.waitFromNow()
	m.mu.Unlock()
	evConn, evLocal, err := dial(m.CtrlDir, m.Iface, m.LocalDir)
	if err != nil {
		return connected, err
	}
	sock := filepath.Join(m.CtrlDir, m.Iface)
	// The socket this connection is to, to tell a restarted hostapd's.
	was, err := os.Stat(sock)
	if err != nil {
		return connected, fmt.Errorf("hostapd: %s: %w: %v", m.Iface, ErrUnavailable, err)
	}
	defer func() { evConn.Close(); os.Remove(evLocal) }()
	actx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	r, err := request(actx, evConn, m.Iface, "ATTACH")
	cancel()
	if err != nil {
		return connected, err
	}
	if r != "OK" {
		return false, fmt.Errorf("hostapd: %s: ATTACH answered %q", m.Iface, r)
	}
	// request left a deadline on the socket; the loop below sets its own.
	evConn.SetDeadline(time.Time{})
	if m.OnConnect != nil {
		if err := m.OnConnect(ctx, c); err != nil {
			if m.OnDisconnect != nil {
				m.OnDisconnect()
			}
			return false, fmt.Errorf("failed to set up after connecting: %w", err)
		}
	}
	m.mu.Lock()
	m.client = c
	m.initLocked()
	close(m.up)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.client = nil
		m.up = make(chan struct{})
		m.waitFromNow()
		m.mu.Unlock()
		if m.OnDisconnect != nil {
			m.OnDisconnect()
		}
	}()
	log.Info("hostapd connected")
	connected = true
	select {
	case <-m.ready:
	default:
		close(m.ready)
	}

	buf := make([]byte, maxReply)
	var pinged time.Time
	for {
		if err := evConn.SetReadDeadline(time.Now().Add(pingEvery)); err != nil {
			return connected, err
		}
		n, err := evConn.Read(buf)
		if ctx.Err() != nil {
			// Best effort: let hostapd forget this listener at once.
			evConn.SetDeadline(time.Now().Add(200 * time.Millisecond))
			evConn.Write([]byte("DETACH"))
			return true, nil
		}
		var ne net.Error
		switch {
		case err == nil:
			pinged = time.Time{}
			ev, ok := ParseEvent(m.Iface, string(buf[:n]))
			if !ok {
				continue // the PONG to our PING
			}
			if ev.Name == "CTRL-EVENT-TERMINATING" {
				return true, errors.New("hostapd is terminating")
			}
			if m.OnEvent != nil {
				m.OnEvent(ev)
			}
		case errors.As(err, &ne) && ne.Timeout():
			if !pinged.IsZero() {
				if time.Since(pinged) > deadAfter {
					return true, errors.New("hostapd does not answer PING")
				}
				// A PING that reached hostapd's socket as hostapd
				// died is lost without an error: ask the socket.
				if err := stillThere(sock, was); err != nil {
					return true, err
				}
				continue
			}
			// PING on the event socket itself: a restarted hostapd does
			// not know this listener, and the write or the missing PONG
			// tells. The PONG comes back through the loop above, so no
			// event is lost waiting for it.
			evConn.SetWriteDeadline(time.Now().Add(DefaultTimeout))
			if _, err := evConn.Write([]byte("PING")); err != nil {
				return connected, err
			}
			pinged = time.Now()
		default:
			return connected, err
		}
	}
}

// stillThere tells whether the control socket at path is still the one
// the connection was made to (was) and bound by a process: a hostapd that
// exited removed it, a restarted one replaced it, a killed one left it
// bound by nobody. Connecting asks without writing into hostapd's queue,
// which a busy hostapd shares with every client (ten datagrams by
// default): PINGs piled up there would hold up trustjoin's own commands.
func stillThere(path string, was os.FileInfo) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("hostapd's control socket is gone: %w", err)
	}
	// The inode number of a removed socket may be taken by the next one
	// at once; the time it was made tells them apart.
	if !os.SameFile(fi, was) || !fi.ModTime().Equal(was.ModTime()) {
		return errors.New("hostapd's control socket was replaced (hostapd restarted)")
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("nobody reads hostapd's control socket: %w", err)
	}
	c.Close()
	return nil
}
