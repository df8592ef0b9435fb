package firewall

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// corpus is beside the checkout; TJ_MUD_CORPUS names it elsewhere (the
// lab VM gets a copy inside the checkout).
var corpus = func() string {
	if c := os.Getenv("TJ_MUD_CORPUS"); c != "" {
		return c
	}
	return "../../../../shared/mud-corpus"
}()

func loadMUD(t testing.TB, name string) *mud.Policy {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		t.Skipf("MUD corpus not beside the checkout: %v", err)
	}
	p, err := mud.Parse(b, 0)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// corpusPolicies returns every corpus MUD file the parser accepts.
func corpusPolicies(t testing.TB) []*mud.Policy {
	var out []*mud.Policy
	err := filepath.WalkDir(corpus, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if pol, err := mud.Parse(b, 0); err == nil && len(pol.FromDevice)+len(pol.ToDevice) > 0 {
			out = append(out, pol)
		}
		return nil
	})
	if err != nil || len(out) == 0 {
		t.Skipf("MUD corpus not beside the checkout: %v", err)
	}
	return out
}
