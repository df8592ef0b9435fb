package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/alert"
	"github.com/trustjoin/trustjoin/src/internal/authorize"
	"github.com/trustjoin/trustjoin/src/internal/config"
)

// A reload builds everything again; the security events' numbers must go
// on from where they were, or a reader asking for those after the last it
// saw (an ACS, LuCI: since=N) misses every event until the count comes back
// to N.
func TestSecurityEventsNumberedAcrossReloads(t *testing.T) {
	dir := t.TempDir()
	// A hook others may write to is never run: each onboarding it is
	// asked about fails, one security event each.
	hook := filepath.Join(dir, "authorize")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho '{\"decision\":\"allow\"}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(hook, 0o777); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	book := newBook(log)
	for gen, level := range []string{"info", "debug"} {
		uci := fmt.Sprintf("config trustjoin 'main'\n\toption firewall '0'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n\toption log_level '%s'\nconfig authorize 'authorize'\n\toption hook '%s'\n", dir, dir, level, hook)
		cfg, err := config.Parse("trustjoin", strings.NewReader(uci))
		if err != nil {
			t.Fatal(err)
		}
		w, _, err := newWatch(log, cfg, book, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if dec := w.Authorize(context.Background(), authorize.Device{ID: fmt.Sprint("d", gen), Name: "lamp"}); dec.Failed == nil {
			t.Fatalf("configuration %d: the hook did not fail: %+v", gen+1, dec)
		}
		evs, counts := w.Events(uint64(gen))
		if len(evs) != 1 || evs[0].Seq != uint64(gen+1) || evs[0].Kind != alert.HookFailed || counts.Total != uint64(gen+1) {
			t.Fatalf("configuration %d: events after %d = %+v (counts %+v), want the one just recorded, number %d", gen+1, gen, evs, counts, gen+1)
		}
	}
}

// "trustjoin unknown --config FILE block MAC" (flags before the action, as
// scripts write it) blocks; it listed the unknown devices instead.
func TestUnknownActionAfterFlags(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"mac":"02:00:00:00:02:00","action":"block","at":"2026-12-05T15:00:00Z"}`)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	for _, args := range [][]string{
		{"--socket", sock, "block", "02:00:00:00:02:00"},
		{"block", "02:00:00:00:02:00", "--socket", sock},
	} {
		var out, errs strings.Builder
		if code := runUnknown(context.Background(), Env{Args: args, Stdout: &out, Stderr: &errs}); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errs.String())
		}
		if r := <-got; r != "POST /v1/unknown/02:00:00:00:02:00" {
			t.Fatalf("%q asked the daemon %s, want the block", args, r)
		}
		if !strings.Contains(out.String(), "02:00:00:00:02:00: ") {
			t.Fatalf("%q printed %q", args, out.String())
		}
	}
	var errs strings.Builder
	if code := runUnknown(context.Background(), Env{Args: []string{"--socket", sock, "block"}, Stdout: io.Discard, Stderr: &errs}); code != 2 {
		t.Fatalf("an action without its MAC: exit %d (%s)", code, errs.String())
	}
}
