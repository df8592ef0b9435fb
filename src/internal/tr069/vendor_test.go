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

var trFiles = []string{"usr/share/bbfdm/plugins/X_TRUSTJOIN_TrustJoin.json", "usr/share/easycwmp/functions/trustjoin"}

// installed copies the shipped TR-069 files into a fresh tree, as the
// package Makefile and ipk.sh install them.
func installed(t *testing.T) string {
	root := t.TempDir()
	for _, f := range append([]string{"usr/bin/trustjoin"}, trFiles...) {
		b, _ := os.ReadFile("../../../files/" + f)
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
// vendor, and accepts and refuses what Root does. trustjoin has no vendor
// of its own (TR-106 wants an OUI or a domain the vendor owns): without
// VENDOR the TR-069 files are left out, and TRUSTJOIN fails the build.
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
		if _, err := os.Stat(filepath.Join(root, trFiles[0])); err == nil {
			t.Errorf("vendor %s: the TRUSTJOIN plugin is still installed beside it", vendor)
		}
		wantScript, err := tr069.EasyCWMP(vendor)
		if err != nil {
			t.Fatal(err)
		}
		got, err = os.ReadFile(filepath.Join(root, trFiles[1]))
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
	for v, ok := range map[string]bool{"00D09E": true, "ISP-EXAMPLE_NET": true, "TRUSTJOIN": false, "A": false, "00d09e": false,
		"example.com": false, "EXAMPLE.COM": false, "X Y": false, "EXAMPLE-": false, "-EXAMPLE": false, "A/B": false, "ÄB-C": false} {
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
			if _, err := os.Stat(filepath.Join(root, trFiles[0])); err != nil {
				t.Errorf("vendor.sh %q refused but changed the tree: %v", v, err)
			}
		}
	}
	// No VENDOR: the files are left out, the rest of the tree stays.
	root := installed(t)
	out, err := exec.Command(vendorScript, "", root).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "VENDOR=") {
		t.Fatalf("vendor.sh without a vendor: %v %s", err, out)
	}
	for _, f := range trFiles {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			t.Errorf("%s is installed without a vendor", f)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr/share")); err == nil {
		t.Error("empty usr/share directories were left behind")
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/trustjoin")); err != nil {
		t.Errorf("the rest of the tree went too: %v", err)
	}
}

// ipk.sh refuses a bad VENDOR before it builds anything.
func TestIPKRefusesBadVendor(t *testing.T) {
	for _, v := range []string{"example.com", "TRUSTJOIN"} {
		cmd := exec.Command("../../../scripts/build/ipk.sh")
		cmd.Env = append(os.Environ(), "VENDOR="+v, "IPK_OUT="+t.TempDir(), "VERSION=1.0.0-r1")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "TR-106") {
			t.Fatalf("ipk.sh with VENDOR=%s: %v\n%s", v, err, out)
		}
	}
}
