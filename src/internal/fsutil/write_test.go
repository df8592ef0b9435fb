package fsutil_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/fsutil"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "secret")
	wrote, err := fsutil.WriteFile(p, []byte("a"), 0o600)
	if err != nil || !wrote {
		t.Fatalf("first write: %v %v", wrote, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	before := fi.ModTime()
	wrote, err = fsutil.WriteFile(p, []byte("a"), 0o600)
	if err != nil || wrote {
		t.Fatalf("unchanged content was written again: %v %v", wrote, err)
	}
	if fi, _ := os.Stat(p); !fi.ModTime().Equal(before) {
		t.Fatal("file touched although unchanged")
	}
	if wrote, err := fsutil.WriteFile(p, []byte("b"), 0o600); err != nil || !wrote {
		t.Fatalf("changed write: %v %v", wrote, err)
	}
	if b, _ := os.ReadFile(p); string(b) != "b" {
		t.Fatalf("content %q", b)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "sub", ".*tmp*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
