package credential_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/credential"
)

func TestPassphraseStaysSecret(t *testing.T) {
	p, err := credential.NewPassphrase()
	if err != nil {
		t.Fatal(err)
	}
	q, _ := credential.NewPassphrase()
	if p.Equal(q) {
		t.Fatal("two fresh passphrases are equal")
	}
	j, _ := json.Marshal(struct{ P credential.Passphrase }{p})
	for _, out := range []string{fmt.Sprint(p), fmt.Sprintf("%v %+v %#v %s", p, p, p, p), string(j)} {
		if !strings.Contains(out, "redacted") {
			t.Fatalf("passphrase printed as %q", out)
		}
	}
	if len(p.Hex()) != 48 {
		t.Fatalf("hex form has length %d", len(p.Hex()))
	}
}

func TestPSKFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "psk", "wlan0.psk")
	// Lines written by others are kept.
	os.MkdirAll(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte("# by hand\n02:00:00:00:00:09 handwritten-pass\n"), 0o600)
	f := credential.Open(path)
	p1, _ := credential.NewPassphrase()
	p2, _ := credential.NewPassphrase()
	if err := f.Set("d-1", 20, p1); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("d-2", 30, p2); err != nil {
		t.Fatal(err)
	}
	ids, _ := f.KeyIDs()
	if diff := cmp.Diff([]string{"d-1", "d-2"}, ids); diff != "" {
		t.Fatalf("key ids (-want +got):\n%s", diff)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 || lines[0] != "# by hand" || !strings.HasPrefix(lines[2], "keyid=d-1 vlanid=20 00:00:00:00:00:00 ") {
		t.Fatalf("file:\n%s", b)
	}
	// hostapd's group reads it (the directory's, see TestPSKFileGroup),
	// nobody else.
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Fatalf("psk file mode %v", fi.Mode().Perm())
	}
	// Replacing a device's credential replaces its line only.
	p3, _ := credential.NewPassphrase()
	f.Set("d-1", 20, p3)
	got, ok, _ := f.Lookup("d-1")
	if !ok || !got.Equal(p3) {
		t.Fatal("d-1 not re-credentialed")
	}
	if err := f.Remove("d-1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.Lookup("d-1"); ok {
		t.Fatal("removed device still has a line")
	}
	if got, ok, _ := f.Lookup("d-2"); !ok || !got.Equal(p2) {
		t.Fatal("removing d-1 disturbed d-2")
	}
	if err := f.Set("bad id", 1, p1); err == nil {
		t.Fatal("accepted a key id with a space")
	}
}

// TestPSKFileGroup: in a setgid directory of hostapd's group (OpenWrt: root:
// network 2750, made by the install script), the PSK file trustjoin writes
// belongs to that group and only it may read it, also after a rewrite.
func TestPSKFileGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the directory another group")
	}
	const gid = 101 // OpenWrt's network
	dir := filepath.Join(t.TempDir(), "psk")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 0, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o750|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	f := credential.Open(filepath.Join(dir, "tj-ap0.psk"))
	for i := 0; i < 2; i++ {
		p, _ := credential.NewPassphrase()
		if err := f.Set(fmt.Sprintf("d-%d", i), 20, p); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(f.Path())
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Gid != gid || fi.Mode().Perm() != 0o640 {
			t.Fatalf("write %d: group %d mode %v, want group %d mode 0640", i, st.Gid, fi.Mode().Perm(), gid)
		}
	}
}
