package hostapd_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/hostapd"
)

// fakeHostapd is a control socket that answers like hostapd, for edge
// cases the real one cannot be made to produce on demand. The real one is
// exercised in hostapd_linux_test.go and the lab.
type fakeHostapd struct {
	t    *testing.T
	dir  string
	conn *net.UnixConn
	mu   sync.Mutex
	// reply maps a command verb to its answer; missing means UNKNOWN COMMAND.
	reply    map[string]string
	attached []*net.UnixAddr
	// before runs before answering, e.g. to send events first.
	before func(cmd string, from *net.UnixAddr)
	silent bool
}

func newFake(t *testing.T) *fakeHostapd {
	f := &fakeHostapd{t: t, dir: t.TempDir(), reply: map[string]string{
		"PING": "PONG\n", "ATTACH": "OK\n", "DETACH": "OK\n", "GET_CAPABILITY": "DPP=2",
		"STATUS": "state=ENABLED\nssid[0]=Home\nfreq=2437\n", "DPP_QR_CODE": "FAIL\n",
	}}
	f.listen()
	t.Cleanup(func() { f.close() })
	return f
}

func (f *fakeHostapd) listen() {
	addr := &net.UnixAddr{Name: filepath.Join(f.dir, "wlan0"), Net: "unixgram"}
	os.Remove(addr.Name)
	c, err := net.ListenUnixgram("unixgram", addr)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.conn = c
	f.attached = nil
	f.mu.Unlock()
	go f.serve(c)
}

func (f *fakeHostapd) close() {
	f.mu.Lock()
	c := f.conn
	f.mu.Unlock()
	c.Close()
	os.Remove(filepath.Join(f.dir, "wlan0"))
}

// restart is what a hostapd restart looks like from a client: the socket
// goes away and a new one, knowing no listener, takes its place.
func (f *fakeHostapd) restart() {
	f.close()
	time.Sleep(300 * time.Millisecond)
	f.listen()
}

func (f *fakeHostapd) serve(c *net.UnixConn) {
	buf := make([]byte, 4096)
	for {
		n, from, err := c.ReadFromUnix(buf)
		if err != nil {
			return
		}
		cmd := string(buf[:n])
		v, _, _ := strings.Cut(cmd, " ")
		f.mu.Lock()
		if v == "ATTACH" {
			f.attached = append(f.attached, from)
		}
		before, silent := f.before, f.silent
		r, ok := f.reply[v]
		f.mu.Unlock()
		if before != nil {
			before(cmd, from)
		}
		if silent {
			continue
		}
		if !ok {
			r = "UNKNOWN COMMAND\n"
		}
		c.WriteToUnix([]byte(r), from)
	}
}

func (f *fakeHostapd) event(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.attached {
		f.conn.WriteToUnix([]byte(msg), a)
	}
}

func TestCommand(t *testing.T) {
	f := newFake(t)
	local := t.TempDir()
	c, err := hostapd.Dial(f.dir, "wlan0", local)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("PING: %v", err)
	}
	if _, err := c.Command(ctx, "DPP_QR_CODE DPP:bad;;"); !errors.Is(err, hostapd.ErrFail) {
		t.Fatalf("want ErrFail, got %v", err)
	}
	_, err = c.Command(ctx, "FOOBAR pass=73656372657421")
	if !errors.Is(err, hostapd.ErrUnknownCommand) {
		t.Fatalf("want ErrUnknownCommand, got %v", err)
	}
	if strings.Contains(err.Error(), "pass=") || strings.Contains(err.Error(), "7365") {
		t.Fatalf("an error carries a command's arguments: %v", err)
	}
	st, err := c.Command(ctx, "STATUS")
	if err != nil || hostapd.ParseKV(st)["ssid[0]"] != "Home" {
		t.Fatalf("STATUS: %q %v", st, err)
	}
	if s, err := c.Capabilities(ctx); err != nil || !s.Supported || s.Version != 2 {
		t.Fatalf("Capabilities: %+v %v", s, err)
	}

	// A hostapd without DPP says so through FAIL or an unknown command.
	f.mu.Lock()
	delete(f.reply, "GET_CAPABILITY")
	f.mu.Unlock()
	if s, err := c.Capabilities(ctx); err != nil || s.Supported {
		t.Fatalf("Capabilities without DPP: %+v %v", s, err)
	}

	// Events interleaved before a reply are not taken for it.
	f.mu.Lock()
	f.before = func(cmd string, from *net.UnixAddr) {
		for i := 0; i < 50; i++ {
			f.conn.WriteToUnix([]byte("<3>DPP-RX src=02:00:00:00:01:00"), from)
		}
	}
	f.mu.Unlock()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("PING amid events: %v", err)
	}

	// No answer: the context's deadline ends the wait.
	f.mu.Lock()
	f.before, f.silent = nil, true
	f.mu.Unlock()
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := c.Command(tctx, "PING"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
}

// A reply that comes after its command gave up is not taken for the next
// command's (a busy hostapd answers seconds late).
func TestLateReplyNotTakenForTheNext(t *testing.T) {
	f := newFake(t)
	f.mu.Lock()
	f.reply["DPP_BOOTSTRAP_REMOVE"], f.reply["DPP_QR_CODE"] = "OK\n", "5\n"
	f.before = func(cmd string, _ *net.UnixAddr) {
		if strings.HasPrefix(cmd, "DPP_BOOTSTRAP_REMOVE") {
			time.Sleep(500 * time.Millisecond)
		}
	}
	f.mu.Unlock()
	c, err := hostapd.Dial(f.dir, "wlan0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Command(ctx, "DPP_BOOTSTRAP_REMOVE 4"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a timeout, got %v", err)
	}
	if r, err := c.Command(context.Background(), "DPP_QR_CODE DPP:K:x;;"); err != nil || r != "5" {
		t.Fatalf("DPP_QR_CODE answered %q, %v: the late reply to the command before was taken for its", r, err)
	}
}

func TestStaleSocketsRemoved(t *testing.T) {
	f := newFake(t)
	local := t.TempDir()
	// A socket of a process that no longer exists (pid 2^22 > pid_max).
	stale := filepath.Join(local, "trustjoin-4194305-1")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: stale, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	os.WriteFile(stale, nil, 0o600) // Close removed it; leave a file behind as a crash would
	c, err := hostapd.Dial(f.dir, "wlan0", local)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale client socket not removed: %v", err)
	}
}

func TestMonitorRecoversFromRestart(t *testing.T) {
	f := newFake(t)
	events := make(chan hostapd.Event, 100)
	connects := make(chan struct{}, 10)
	m := &hostapd.Monitor{
		Iface: "wlan0", CtrlDir: f.dir, LocalDir: t.TempDir(),
		OnConnect: func(ctx context.Context, c *hostapd.Client) error {
			connects <- struct{}{}
			return c.Ping(ctx)
		},
		OnEvent: func(ev hostapd.Event) { events <- ev },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	wait := func(what string, c <-chan struct{}) {
		t.Helper()
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
	}
	wait("first connection", connects)
	<-m.Ready()
	f.event("<3>AP-STA-CONNECTED 02:00:00:00:01:00 keyid=d-1")
	select {
	case ev := <-events:
		if ev.Name != "AP-STA-CONNECTED" || ev.Fields["keyid"] != "d-1" || ev.Iface != "wlan0" {
			t.Fatalf("event: %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("event not delivered")
	}

	// A quiet hostapd is not a dead one: the keep-alive must not tear a
	// healthy connection down (it once did, after the ATTACH deadline).
	select {
	case <-connects:
		t.Fatal("the monitor reconnected to a healthy hostapd")
	case <-time.After(hostapd.DefaultTimeout + 2*time.Second):
	}

	f.restart()
	wait("reconnection after restart", connects)
	// Commands work again after the restart. (The monitor retries every
	// 250 ms; the bound here is generous so a loaded machine cannot make
	// this a timing test.)
	until := time.Now().Add(10 * time.Second)
	for {
		_, err := m.Command(context.Background(), "PING")
		if err == nil {
			break
		}
		if time.Now().After(until) {
			t.Fatalf("command after reconnection: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Events flow again on the new connection.
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.event("<3>DPP-CONF-SENT")
		select {
		case ev := <-events:
			if ev.Name == "DPP-CONF-SENT" {
				return
			}
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no events after reconnection")
		}
	}
}

// A request that arrives while hostapd is being reconnected to waits for
// it (Wait) and finds it set up; one whose hostapd does not come back is
// refused when the reconnection window ends, and later ones at once.
func TestMonitorWait(t *testing.T) {
	f := newFake(t)
	lost := make(chan struct{}, 10)
	m := &hostapd.Monitor{Iface: "wlan0", CtrlDir: f.dir, LocalDir: t.TempDir(), ReconnectWait: time.Minute,
		OnDisconnect: func() { lost <- struct{}{} }}
	stop := runMonitor(t, m)
	defer stop()
	<-m.Ready()
	if err := m.Wait(context.Background()); err != nil {
		t.Fatalf("Wait on a connected hostapd: %v", err)
	}

	// hostapd goes away; a request comes; hostapd comes back.
	f.close()
	waitLost(t, lost)
	waited := make(chan error, 1)
	go func() { waited <- m.Wait(context.Background()) }()
	select {
	case err := <-waited:
		t.Fatalf("Wait returned while hostapd was away: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	f.listen()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("Wait after hostapd came back: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after hostapd came back")
	}
	// Set up when Wait returns: a command goes through at once.
	if _, err := m.Command(context.Background(), "PING"); err != nil {
		t.Fatalf("command after Wait: %v", err)
	}

	// The request's context ends the wait.
	f.close()
	waitLost(t, lost)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := m.Wait(ctx); !errors.Is(err, hostapd.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the request's deadline, as ErrUnavailable, got %v", err)
	}
}

func TestMonitorWaitGivesUp(t *testing.T) {
	// No hostapd at all (no socket): the window opened at Run's start.
	m := &hostapd.Monitor{Iface: "wlan0", CtrlDir: t.TempDir(), LocalDir: t.TempDir(), ReconnectWait: 300 * time.Millisecond}
	stop := runMonitor(t, m)
	defer stop()
	if err := m.Wait(context.Background()); !errors.Is(err, hostapd.ErrUnavailable) || !strings.Contains(err.Error(), "not back within 300ms") {
		t.Fatalf("want ErrUnavailable at the window's end, got %v", err)
	}
	// Past the window, hostapd counts as down: refused at once, before
	// this shorter deadline (a wait would end with it).
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := m.Wait(ctx); !errors.Is(err, hostapd.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrUnavailable at once, got %v", err)
	}
}

// runMonitor runs m until the returned stop.
func runMonitor(t *testing.T, m *hostapd.Monitor) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// waitLost waits until the monitor has noticed hostapd gone.
func waitLost(t *testing.T, lost <-chan struct{}) {
	t.Helper()
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the monitor did not notice hostapd gone")
	}
}

// A hostapd busy for seconds (deriving a PSK file's passphrases, or
// OpenWrt's removing a device's interfaces) answers the PING late: the
// monitor keeps its connection, and so the events hostapd sends when it is
// done, instead of reconnecting (it did after 5 s, and they were lost).
func TestMonitorKeepsBusyHostapd(t *testing.T) {
	f := newFake(t)
	var once sync.Once
	free := make(chan struct{})
	f.mu.Lock()
	f.before = func(cmd string, _ *net.UnixAddr) {
		if cmd == "PING" {
			once.Do(func() {
				time.Sleep(7 * time.Second)
				f.event("<3>AP-STA-CONNECTED 02:00:00:00:01:00 keyid=d-1")
				close(free)
			})
		}
	}
	f.mu.Unlock()
	connects := make(chan struct{}, 10)
	events := make(chan hostapd.Event, 10)
	m := &hostapd.Monitor{Iface: "wlan0", CtrlDir: f.dir, LocalDir: t.TempDir(),
		OnConnect: func(context.Context, *hostapd.Client) error { connects <- struct{}{}; return nil },
		OnEvent:   func(ev hostapd.Event) { events <- ev },
	}
	stop := runMonitor(t, m)
	defer stop()
	<-connects
	<-free
	select {
	case ev := <-events:
		if ev.Name != "AP-STA-CONNECTED" {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the event hostapd sent when it was done was lost")
	}
	if err := m.Wait(context.Background()); err != nil {
		t.Fatalf("not connected after hostapd was busy: %v", err)
	}
	select {
	case <-connects:
		t.Fatal("the monitor reconnected to a busy hostapd")
	default:
	}
}

// A hostapd that dies with trustjoin's PING unanswered in its socket is
// noticed by its socket at the next check, not after the long wait a busy
// one is given: whether it removed its socket (exit), left it bound by
// nobody (killed) or a new hostapd replaced it (restart).
func TestMonitorNoticesDeathWithPINGPending(t *testing.T) {
	for _, tc := range []struct {
		name string
		die  func(f *fakeHostapd)
		want string
	}{
		{"exited", func(f *fakeHostapd) { f.close() }, "socket is gone"},
		{"killed", func(f *fakeHostapd) {
			f.mu.Lock()
			f.conn.Close()
			f.mu.Unlock()
		}, "nobody reads"},
		{"restarted", func(f *fakeHostapd) { f.restart() }, "was replaced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			pinged := make(chan struct{})
			var once sync.Once
			f.mu.Lock()
			f.before = func(cmd string, _ *net.UnixAddr) {
				if cmd == "PING" {
					once.Do(func() { close(pinged) })
				}
			}
			f.mu.Unlock()
			lost := make(chan struct{}, 10)
			var logged lockedBuffer
			m := &hostapd.Monitor{Iface: "wlan0", CtrlDir: f.dir, LocalDir: t.TempDir(),
				Log:          slog.New(slog.NewTextHandler(&logged, nil)),
				OnDisconnect: func() { lost <- struct{}{} }}
			stop := runMonitor(t, m)
			defer stop()
			<-m.Ready()
			// hostapd takes the PING and dies before answering.
			f.mu.Lock()
			f.silent = true
			f.mu.Unlock()
			<-pinged
			tc.die(f)
			// Well within deadAfter (20 s): the check runs every second.
			waitLost(t, lost)
			for until := time.Now().Add(5 * time.Second); !strings.Contains(logged.String(), "connection lost") && time.Now().Before(until); {
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(logged.String(), tc.want) {
				t.Fatalf("want the loss put as %q:\n%s", tc.want, logged.String())
			}
		})
	}
}

// A set-up that fails half-way (the engine marks the access point up,
// then cannot restore its configurator) is undone: OnDisconnect runs, so
// the access point does not show up while the monitor retries.
func TestMonitorSetupFailureDisconnects(t *testing.T) {
	f := newFake(t)
	var mu sync.Mutex
	var seen []string
	m := &hostapd.Monitor{Iface: "wlan0", CtrlDir: f.dir, LocalDir: t.TempDir(),
		OnConnect: func(context.Context, *hostapd.Client) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, "up")
			if len(seen) == 1 {
				return errors.New("no configurator")
			}
			return nil
		},
		OnDisconnect: func() { mu.Lock(); seen = append(seen, "down"); mu.Unlock() },
	}
	stop := runMonitor(t, m)
	defer stop()
	<-m.Ready()
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, " ") != "up down up" {
		t.Fatalf("a failed set-up, then a good one: %q", seen)
	}
}

func TestMonitorCommandWhileDown(t *testing.T) {
	m := &hostapd.Monitor{Iface: "wlan9", CtrlDir: t.TempDir(), LocalDir: t.TempDir()}
	if _, err := m.Command(context.Background(), "PING"); !errors.Is(err, hostapd.ErrUnavailable) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{"<3>AP-STA-CONNECTED 02:00:00:00:01:00 keyid=d-1", "<3>DPP-FAIL Configurator rejected configuration", "<>", "<3", "<99999999999999999999>X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ev, ok := hostapd.ParseEvent("wlan0", s)
		if ok && ev.Name == "" {
			t.Fatalf("event without a name from %q", s)
		}
	})
}
