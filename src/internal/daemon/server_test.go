package daemon_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/daemon"
)

// task is a Task that records how it was run and stopped.
type task struct {
	name    string
	ready   chan struct{}
	fail    error
	stopped atomic.Bool
}

func newTask(name string) *task { return &task{name: name, ready: make(chan struct{})} }

func (t *task) String() string         { return t.name }
func (t *task) Ready() <-chan struct{} { return t.ready }
func (t *task) Run(ctx context.Context) error {
	close(t.ready)
	if t.fail != nil {
		return t.fail
	}
	<-ctx.Done()
	t.stopped.Store(true)
	return nil
}

// harness runs a Server with a configuration the test can swap, recording
// notifications and the tasks of each generation.
type harness struct {
	mu      sync.Mutex
	text    string
	gens    [][]*task
	states  []string
	sigC    chan os.Signal
	srv     *daemon.Server
	stateCh chan string
}

func newHarness(t *testing.T, text string, fail error) *harness {
	h := &harness{text: text, sigC: make(chan os.Signal, 1), stateCh: make(chan string, 16)}
	load := func() (*config.Config, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		return config.Parse("test", strings.NewReader(h.text))
	}
	build := func(cfg *config.Config) ([]daemon.Task, error) {
		if cfg.Main.StateDir == "/unbuildable" {
			return nil, errors.New("cannot create /unbuildable")
		}
		a, b := newTask("a"), newTask("b")
		b.fail = fail
		h.mu.Lock()
		h.gens = append(h.gens, []*task{a, b})
		h.mu.Unlock()
		return []daemon.Task{a, b}, nil
	}
	notify := func(s string) {
		h.mu.Lock()
		h.states = append(h.states, s)
		h.mu.Unlock()
		h.stateCh <- s
	}
	h.srv = daemon.NewServer(slog.New(slog.NewTextHandler(os.Stderr, nil)), nil, load, build, notify)
	return h
}

func (h *harness) set(text string) { h.mu.Lock(); h.text = text; h.mu.Unlock() }

func (h *harness) wait(t *testing.T, state string) {
	t.Helper()
	select {
	case s := <-h.stateCh:
		if s != state {
			t.Fatalf("got notification %q, want %q", s, state)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no %q notification", state)
	}
}

func TestServeReadyReloadStop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "", nil)
	errC := make(chan error, 1)
	go func() { errC <- h.srv.Serve(context.Background(), h.sigC) }()

	h.wait(t, "READY=1")
	if !h.srv.Status().Ready {
		t.Fatal("status not ready after READY=1")
	}

	// An invalid configuration is rejected whole; the running tasks stay.
	h.set("config trustjoin 'main'\n\toption log_level 'loud'\n")
	h.sigC <- syscall.SIGHUP
	deadline := time.Now().Add(10 * time.Second)
	for h.srv.Status().Rejected == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := h.srv.Status().Rejected; !strings.Contains(got, `invalid value "loud"`) {
		t.Fatalf("rejection not reported, status: %q", got)
	}
	h.mu.Lock()
	if len(h.gens) != 1 || h.gens[0][0].stopped.Load() {
		t.Fatal("a rejected configuration restarted or stopped tasks")
	}
	h.mu.Unlock()

	// An unchanged valid configuration changes nothing either.
	h.set("")
	h.sigC <- syscall.SIGHUP
	// A changed one replaces the tasks as a whole.
	h.set("config trustjoin 'main'\n\toption log_level 'debug'\n")
	h.sigC <- syscall.SIGHUP
	h.wait(t, "RELOADING=1")
	h.wait(t, "READY=1")
	h.mu.Lock()
	if len(h.gens) != 2 {
		t.Fatalf("want 2 generations of tasks, got %d", len(h.gens))
	}
	for _, tk := range h.gens[0] {
		if !tk.stopped.Load() {
			t.Errorf("task %s of the old configuration was not stopped", tk)
		}
	}
	h.mu.Unlock()
	if h.srv.Status().Rejected != "" {
		t.Fatal("rejection still reported after a good reload")
	}

	h.sigC <- syscall.SIGTERM
	h.wait(t, "STOPPING=1")
	if err := <-errC; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, tk := range h.gens[1] {
		if !tk.stopped.Load() {
			t.Errorf("task %s not stopped on SIGTERM", tk)
		}
	}
}

func TestServeTaskFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "", errors.New("boom"))
	err := h.srv.Serve(context.Background(), h.sigC)
	if err == nil || !strings.Contains(err.Error(), "b: boom") {
		t.Fatalf("want the failing task's error, got %v", err)
	}
}

func TestServeBadInitialConfig(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "config nonsense\n", nil)
	err := h.srv.Serve(context.Background(), h.sigC)
	if err == nil || !strings.Contains(err.Error(), "unknown section type") {
		t.Fatalf("want the config error, got %v", err)
	}
}

// A configuration that is valid but cannot be set up (a directory that
// cannot be made, say) is rejected like an invalid one, and the one in
// force before comes back: never a daemon that exits on a push.
// TestServeSetupFailureAtStart: a configuration that cannot be set up at
// start-up gives way to the last good one; without one, Serve fails.
func TestServeSetupFailureAtStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "config trustjoin 'main'\n\toption state_dir '/unbuildable'\n", nil)
	good, err := config.Parse("good", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Fallback = func() (*config.Config, error) { return good, nil }
	errC := make(chan error, 1)
	go func() { errC <- h.srv.Serve(context.Background(), h.sigC) }()
	h.wait(t, "READY=1")
	if got := h.srv.Status().Rejected; !strings.Contains(got, "cannot create /unbuildable") {
		t.Fatalf("rejection not reported, status: %q", got)
	}
	h.sigC <- syscall.SIGTERM
	h.wait(t, "STOPPING=1")
	if err := <-errC; err != nil {
		t.Fatalf("Serve: %v", err)
	}

	// The last good configuration is the one that fails: no loop.
	bad := "config trustjoin 'main'\n\toption state_dir '/unbuildable'\n"
	h2 := newHarness(t, bad, nil)
	h2.srv.Fallback = func() (*config.Config, error) { return config.Parse("test", strings.NewReader(bad)) }
	if err := h2.srv.Serve(context.Background(), h2.sigC); err == nil || !strings.Contains(err.Error(), "cannot create /unbuildable") {
		t.Fatalf("Serve with an unbuildable last good configuration: %v", err)
	}
}

func TestServeSetupFailureGoesBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "", nil)
	errC := make(chan error, 1)
	go func() { errC <- h.srv.Serve(context.Background(), h.sigC) }()
	h.wait(t, "READY=1")

	h.set("config trustjoin 'main'\n\toption state_dir '/unbuildable'\n")
	h.sigC <- syscall.SIGHUP
	h.wait(t, "RELOADING=1")
	h.wait(t, "READY=1")
	if got := h.srv.Status().Rejected; !strings.Contains(got, "cannot create /unbuildable") {
		t.Fatalf("rejection not reported, status: %q", got)
	}
	h.mu.Lock()
	if len(h.gens) != 2 {
		t.Fatalf("want the first configuration's tasks started again (2 generations), got %d", len(h.gens))
	}
	h.mu.Unlock()

	h.sigC <- syscall.SIGTERM
	h.wait(t, "STOPPING=1")
	if err := <-errC; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
