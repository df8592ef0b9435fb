package tr069_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/tr069"
)

const vendorScript = "../../../scripts/build/vendor.sh"

// installed copies the shipped TR-069 files into a fresh tree, as the
// package Makefile and ipk.sh install them.
func installed(t *testing.T) string {
	root := t.TempDir()
	for _, f := range []string{"usr/share/bbfdm/plugins/X_TRUSTJOIN_TrustJoin.json", "usr/share/easycwmp/functions/trustjoin"} {
		b, err := os.ReadFile("../../../files/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// The build's VENDOR knob (scripts/build/vendor.sh, used by the package
// Makefile and ipk.sh) gives exactly what the generator makes for that
// vendor, and accepts and refuses what Root does.
func TestVendorBuildKnob(t *testing.T) {
	for _, vendor := range []string{"00D09E", "EXAMPLE-COM", "ISP_NET"} {
		root := installed(t)
		if out, err := exec.Command(vendorScript, vendor, root).CombinedOutput(); err != nil {
			t.Fatalf("vendor.sh %s: %v\n%s", vendor, err, out)
		}
		wantPlugin, err := tr069.BBFDM(vendor)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(root, "usr/share/bbfdm/plugins/X_"+vendor+"_TrustJoin.json"))
		if err != nil {
			t.Fatalf("vendor %s: %v", vendor, err)
		}
		if !bytes.Equal(bytes.TrimSpace(got), wantPlugin) {
			t.Errorf("vendor %s: renamed plugin differs from the generator's", vendor)
		}
		if _, err := os.Stat(filepath.Join(root, "usr/share/bbfdm/plugins/X_TRUSTJOIN_TrustJoin.json")); err == nil {
			t.Errorf("vendor %s: the TRUSTJOIN plugin is still installed beside it", vendor)
		}
		wantScript, err := tr069.EasyCWMP(vendor)
		if err != nil {
			t.Fatal(err)
		}
		got, err = os.ReadFile(filepath.Join(root, "usr/share/easycwmp/functions/trustjoin"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, wantScript) {
			t.Errorf("vendor %s: renamed easycwmp script differs from the generator's", vendor)
		}
		if !bytes.Contains(got, []byte(`TJ_ROOT="Device.X_`+vendor+`_TrustJoin."`)) {
			t.Errorf("vendor %s: script root not renamed", vendor)
		}
	}
	for v, ok := range map[string]bool{"TRUSTJOIN": true, "00D09E": true, "A": false, "00d09e": false, "example.com": false,
		"EXAMPLE.COM": false, "": false, "X Y": false, "EXAMPLE-": false, "-EXAMPLE": false, "A/B": false, "ÄB": false} {
		_, rootErr := tr069.Root(v)
		if (rootErr == nil) != ok {
			t.Errorf("Root(%q): %v, want ok=%v", v, rootErr, ok)
		}
		root := installed(t)
		out, err := exec.Command(vendorScript, v, root).CombinedOutput()
		if (err == nil) != ok {
			t.Errorf("vendor.sh %q: %v %s, want ok=%v", v, err, out, ok)
		}
		if !ok {
			if !strings.Contains(string(out), "TR-106") {
				t.Errorf("vendor.sh %q says %q, not why", v, out)
			}
			if _, err := os.Stat(filepath.Join(root, "usr/share/bbfdm/plugins/X_TRUSTJOIN_TrustJoin.json")); err != nil {
				t.Errorf("vendor.sh %q refused but changed the tree: %v", v, err)
			}
		}
	}
}

// ipk.sh refuses a bad VENDOR before it builds anything.
func TestIPKRefusesBadVendor(t *testing.T) {
	cmd := exec.Command("../../../scripts/build/ipk.sh")
	cmd.Env = append(os.Environ(), "VENDOR=example.com", "IPK_OUT="+t.TempDir(), "VERSION=1.0.0-r1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "TR-106") {
		t.Fatalf("ipk.sh with VENDOR=example.com: %v\n%s", err, out)
	}
}
