package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
