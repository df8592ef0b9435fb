package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/trustjoin/trustjoin/src/internal/build"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/daemon"
)

func init() {
	commands["daemon"] = command{summary: "run the trustjoin daemon", run: runDaemon}
}

func runDaemon(ctx context.Context, env Env) int {
	fs := newFlags("daemon", env)
	path := fs.String("config", config.DefaultPath, "UCI configuration `file`")
	useSyslog := fs.Bool("syslog", false, "log to syslog instead of stderr")
	if err := fs.Parse(env.Args); err != nil {
		return 2
	}

	var level slog.LevelVar
	out := env.Stderr
	if *useSyslog {
		w, err := daemon.SyslogWriter()
		if err != nil {
			fmt.Fprintf(env.Stderr, "trustjoin: failed to open syslog: %v\n", err)
			return 1
		}
		out = w
	}
	log := daemon.NewLogger(out, &level)
	log.Info("starting", "version", build.Version, "config", *path)

	notify := daemon.SystemdNotify(log)
	load := func() (*config.Config, error) { return config.Load(*path) }
	build := func(cfg *config.Config) ([]daemon.Task, error) {
		return buildTasks(log, cfg, notify)
	}
	srv := daemon.NewServer(log, &level, load, build, notify)

	sigC := make(chan os.Signal, 1)
	signal.Notify(sigC, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigC)
	if err := srv.Serve(ctx, sigC); err != nil {
		log.Error("daemon failed", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// buildTasks wires the subsystems the configuration asks for.
func buildTasks(log *slog.Logger, cfg *config.Config, notify func(string)) ([]daemon.Task, error) {
	for _, dir := range []string{cfg.Main.StateDir, cfg.Main.RunDir} {
		// Both hold secrets or the root-only API socket.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("failed to create %s: %v", dir, err)
		}
	}
	tasks := []daemon.Task{daemon.NewWatchdog(log, notify)}
	if !cfg.Main.Enabled {
		log.Warn("disabled in the configuration (main.enabled '0'): onboarding and enforcement are off")
	}
	return tasks, nil
}
