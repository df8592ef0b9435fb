package lifecycle

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The script runs at start and again only when the package database
// has changed and settled (opkg rewrites its status file in place); a fake
// script here, test/openwrt runs the real one under procd.
func TestHostapdVLANsRunsOnChange(t *testing.T) {
	dir := t.TempDir()
	opkgStatus, apkInstalled = filepath.Join(dir, "status"), filepath.Join(dir, "installed")
	runs := filepath.Join(dir, "runs")
	script := filepath.Join(dir, "hostapd-vlans")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1\" >> "+runs+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(s string, at time.Time) {
		t.Helper()
		if err := os.WriteFile(opkgStatus, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(opkgStatus, at, at)
	}
	count := func() int {
		b, _ := os.ReadFile(runs)
		return strings.Count(string(b), "reload\n")
	}
	h := NewHostapdVLANs(slog.New(slog.NewTextHandler(io.Discard, nil)), script)
	ctx := context.Background()
	now := time.Now()
	write("Package: wpad-basic-mbedtls\nStatus: install user installed\n", now)
	var p poll
	for i, step := range []struct {
		name   string
		change func()
		want   int
	}{
		{"start", func() {}, 1},
		{"unchanged", func() {}, 1},
		{"half written", func() { write("Package: wpad-mb", now.Add(time.Second)) }, 1},
		{"written", func() { write("Package: wpad-mbedtls\nStatus: install user installed\n", now.Add(2*time.Second)) }, 1},
		{"settled: full for basic", func() {}, 2},
		{"unchanged again", func() {}, 2},
		{"database gone", func() { os.Remove(opkgStatus) }, 2},
		{"still gone", func() {}, 3},
	} {
		step.change()
		h.check(ctx, &p)
		if got := count(); got != step.want {
			t.Fatalf("step %d (%s): the script ran %d times, want %d", i, step.name, got, step.want)
		}
	}
}

// Without the script (not OpenWrt) the task is ready at once and idle.
func TestHostapdVLANsWithoutScript(t *testing.T) {
	h := NewHostapdVLANs(slog.New(slog.NewTextHandler(io.Discard, nil)), filepath.Join(t.TempDir(), "none"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	<-h.Ready()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
