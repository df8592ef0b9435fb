package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"syscall"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"golang.org/x/sync/errgroup"
)

// A Task is a long-running part of the daemon. Run returns nil once ctx is
// cancelled; any other return is a failure that stops the daemon so its
// supervisor (procd, systemd) restarts it. Ready is closed once the task
// does its job, so readiness is only reported when it is true.
type Task interface {
	Run(ctx context.Context) error
	Ready() <-chan struct{}
	String() string
}

// A Builder turns a validated configuration into the tasks that carry it out.
type Builder func(cfg *config.Config) ([]Task, error)

// Server runs the daemon's tasks for the current configuration and replaces
// them as a whole when a new, valid configuration is loaded on SIGHUP.
type Server struct {
	log    *slog.Logger
	level  *slog.LevelVar
	load   func() (*config.Config, error)
	build  Builder
	notify func(state string)

	// Fallback, if set, supplies the last configuration known to be good
	// when the current one is invalid at start-up, so a bad file pushed
	// while the router was off does not leave it without trustjoin (or
	// in a respawn loop).
	Fallback func() (*config.Config, error)

	mu     sync.Mutex
	status Status
}

// Status is what the daemon reports about its configuration, for the API,
// the LuCI page and TR-069.
type Status struct {
	// Ready is true while every task of the running configuration is ready.
	Ready bool
	// LoadedAt is when the configuration in force was loaded.
	LoadedAt time.Time
	// Rejected says why the last configuration offered on reload was
	// refused; empty when the last reload succeeded.
	Rejected   string
	RejectedAt time.Time
}

// NewServer prepares a Server. load reads and validates the configuration,
// build creates tasks from it; notify, if not nil, receives sd_notify-style
// states ("READY=1", "RELOADING=1", "STOPPING=1"). level, if not nil, follows
// the configured log level across reloads.
func NewServer(log *slog.Logger, level *slog.LevelVar, load func() (*config.Config, error), build Builder, notify func(string)) *Server {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if notify == nil {
		notify = func(string) {}
	}
	return &Server{log: log, level: level, load: load, build: build, notify: notify}
}

// Status returns a snapshot of the daemon's configuration status.
func (s *Server) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Serve loads the configuration and runs its tasks until ctx is cancelled or
// a SIGTERM/SIGINT arrives on sigC (nil error), or a task fails (error).
// SIGHUP reloads: an invalid new configuration is rejected whole and the
// running one stays in force; an unchanged one changes nothing.
func (s *Server) Serve(ctx context.Context, sigC <-chan os.Signal) error {
	cfg, err := s.load()
	if err != nil {
		if s.Fallback == nil {
			return err
		}
		good, ferr := s.Fallback()
		if ferr != nil {
			return fmt.Errorf("%v (and no last good configuration: %v)", err, ferr)
		}
		s.log.Error("configuration rejected at start-up, running the last good one", "err", err)
		s.mu.Lock()
		s.status.Rejected, s.status.RejectedAt = err.Error(), time.Now()
		s.mu.Unlock()
		cfg = good
	}
	// prev is the configuration that ran before cfg: if cfg, although
	// valid, cannot be set up, it is rejected and prev runs again. At
	// start-up there is none: the last good configuration stands in for
	// it (a trunk interface gone since, say), once.
	var prev *config.Config
	fellBack := false
	for {
		s.applyLevel(cfg)
		next, err := s.runGeneration(ctx, cfg, sigC)
		var setup *setupError
		if errors.As(err, &setup) && prev == nil && !fellBack && s.Fallback != nil {
			fellBack = true
			if good, ferr := s.Fallback(); ferr == nil && !reflect.DeepEqual(good, cfg) {
				s.log.Error("configuration could not be set up at start-up, running the last good one", "err", err)
				s.mu.Lock()
				s.status.Rejected, s.status.RejectedAt = err.Error(), time.Now()
				s.mu.Unlock()
				cfg = good
				continue
			}
		}
		if errors.As(err, &setup) && prev != nil {
			s.log.Error("new configuration could not be set up, going back to the one in force before", "err", err)
			s.mu.Lock()
			s.status.Rejected, s.status.RejectedAt = err.Error(), time.Now()
			s.mu.Unlock()
			cfg, prev = prev, nil
			continue
		}
		if err != nil || next == nil {
			s.notify("STOPPING=1")
			return err
		}
		prev, cfg = cfg, next
	}
}

// setupError is a configuration's tasks failing to be built.
type setupError struct{ err error }

func (e *setupError) Error() string { return "failed to set up: " + e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

func (s *Server) applyLevel(cfg *config.Config) {
	if s.level != nil {
		s.level.Set(cfg.Main.LogLevel)
	}
}

// runGeneration runs one configuration's tasks. It returns the next
// configuration to run after a successful reload, or nil when the daemon
// should stop.
func (s *Server) runGeneration(ctx context.Context, cfg *config.Config, sigC <-chan os.Signal) (*config.Config, error) {
	tasks, err := s.build(cfg)
	if err != nil {
		return nil, &setupError{err}
	}
	s.mu.Lock()
	s.status.LoadedAt = time.Now()
	s.status.Ready = false
	s.mu.Unlock()

	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	eg, gctx := errgroup.WithContext(gctx)
	for _, t := range tasks {
		eg.Go(func() error {
			s.log.Debug("task starting", "task", t.String())
			if err := t.Run(gctx); err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
			s.log.Debug("task stopped", "task", t.String())
			return nil
		})
	}
	done := make(chan error, 1)
	go func() { done <- eg.Wait() }()

	ready := waitReady(gctx, s.log, tasks)
	for {
		select {
		case <-ready:
			ready = nil
			s.mu.Lock()
			s.status.Ready = true
			s.mu.Unlock()
			s.notify("READY=1")
			s.log.Info("ready", "tasks", len(tasks))
		case err := <-done:
			// A task returned before anyone asked it to stop.
			if err == nil && ctx.Err() == nil {
				err = errors.New("all tasks stopped unexpectedly")
			}
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, err
		case <-ctx.Done():
			return nil, s.stop(cancel, done)
		case sig := <-sigC:
			if sig != syscall.SIGHUP {
				s.log.Info("stopping", "signal", sig.String())
				return nil, s.stop(cancel, done)
			}
			next, ok := s.reload(cfg)
			if !ok {
				continue
			}
			s.notify("RELOADING=1")
			s.log.Info("configuration changed, restarting tasks")
			if err := s.stop(cancel, done); err != nil {
				return nil, err
			}
			return next, nil
		}
	}
}

// reload loads the configuration again and reports whether it is valid and
// different from cur.
func (s *Server) reload(cur *config.Config) (*config.Config, bool) {
	next, err := s.load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.status.Rejected = err.Error()
		s.status.RejectedAt = time.Now()
		s.log.Error("new configuration rejected, keeping the one in force", "err", err)
		return nil, false
	}
	s.status.Rejected, s.status.RejectedAt = "", time.Time{}
	if reflect.DeepEqual(cur, next) {
		s.log.Info("configuration unchanged")
		return nil, false
	}
	return next, true
}

func (s *Server) stop(cancel context.CancelFunc, done <-chan error) error {
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// slowStart is how long tasks may take to be ready before the one holding
// readiness up is named in the log.
const slowStart = 10 * time.Second

// waitReady returns a channel closed once every task is ready.
func waitReady(ctx context.Context, log *slog.Logger, tasks []Task) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		slow := time.NewTimer(slowStart)
		defer slow.Stop()
		for _, t := range tasks {
			for waiting := true; waiting; {
				select {
				case <-t.Ready():
					waiting = false
				case <-slow.C:
					// Said once: which part holds readiness up.
					log.Warn("not ready yet", "waiting_for", t.String(), "after", slowStart)
				case <-ctx.Done():
					return
				}
			}
		}
		close(c)
	}()
	return c
}

// Func makes a Task of a plain function that is ready as soon as it runs.
func Func(name string, run func(ctx context.Context) error) Task {
	return &funcTask{name: name, run: run, ready: make(chan struct{})}
}

type funcTask struct {
	name  string
	run   func(ctx context.Context) error
	ready chan struct{}
}

func (t *funcTask) String() string         { return t.name }
func (t *funcTask) Ready() <-chan struct{} { return t.ready }
func (t *funcTask) Run(ctx context.Context) error {
	close(t.ready)
	return t.run(ctx)
}
