package pkgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The SDK's make functions the package Makefile uses, as small stand-ins:
// enough for GNU make to run the Makefile's own install recipe.
var sdkStubs = map[string]string{
	"rules.mk": `INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
CP:=cp -fpR
`,
	"include/package.mk": `define BuildPackage
install-$(1):
	$$(call Package/$(1)/install,$$(DESTDIR))
endef
`,
	"feed/lang/golang/golang-package.mk": `define GoPackage/Package/Install/Bin
	$(INSTALL_DIR) $(1)/usr/bin
	$(INSTALL_BIN) $(GOBIN) $(1)/usr/bin/trustjoin
endef
`,
}

// TestSDKMakefileInstallsWhatIpkShDoes runs package/trustjoin/Makefile's
// install recipe with GNU make and compares what it installs, file by file
// with modes, with the data of the .ipk scripts/build/ipk.sh makes: an
// SDK-built package must not lack a file (such as the uci-defaults script
// that points the access points at trustjoin's PSK files).
func TestSDKMakefileInstallsWhatIpkShDoes(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("GNU make is needed")
	}
	repo, _ := filepath.Abs("../..")
	tmp, pkgDir := sdkTree(t, sdkStubs)
	gobin := filepath.Join(tmp, "trustjoin.bin")
	os.WriteFile(gobin, []byte("binary"), 0o755)
	dest := filepath.Join(tmp, "dest")
	cmd := exec.Command("make", "-s", "install-trustjoin",
		"TOPDIR="+tmp, "INCLUDE_DIR="+filepath.Join(tmp, "include"),
		"PKG_BUILD_DIR="+repo, "GOBIN="+gobin, "DESTDIR="+dest, "VENDOR=00D09E") // as the .ipk is built
	cmd.Dir = pkgDir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install-trustjoin: %v\n%s", err, b)
	}
	var sdk []string
	filepath.Walk(dest, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			sdk = append(sdk, "./"+strings.TrimPrefix(p, dest+"/")+" "+fi.Mode().Perm().String())
		}
		return nil
	})
	sort.Strings(sdk)

	p := open(t, filepath.Join(ipkDir, "trustjoin_1.2.3-r4_x86_64.ipk"))
	var ipk []string
	for name, m := range p.data {
		if m.hdr.Typeflag == '0' {
			ipk = append(ipk, name+" "+os.FileMode(m.hdr.Mode).Perm().String())
		}
	}
	sort.Strings(ipk)
	if strings.Join(sdk, "\n") != strings.Join(ipk, "\n") {
		t.Errorf("the SDK Makefile installs\n  %s\nscripts/build/ipk.sh packs\n  %s", strings.Join(sdk, "\n  "), strings.Join(ipk, "\n  "))
	}
}

// TestSDKMakefileCompilesAsCrossSh: the SDK build passes go the build tags
// and the no-inlining flags scripts/build/targets.sh gives cross.sh (and
// so make ipk and make size): the binary the SDK builds is the one the size
// budget was measured on. golang-package.mk's compile step is a stand-in that
// prints what the Makefile hands it.
func TestSDKMakefileCompilesAsCrossSh(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("GNU make is needed")
	}
	repo, _ := filepath.Abs("../..")
	stubs := map[string]string{
		"rules.mk":           "",
		"include/package.mk": "compile:\n\t@$(Build/Compile)\n",
		"feed/lang/golang/golang-package.mk": `define GoPackage/Build/Compile
	echo "tags: $(GO_PKG_TAGS)"; echo "gcflags: $(GO_PKG_GCFLAGS)"; echo "args: $(1)"
endef
Build/Compile=$(call GoPackage/Build/Compile)
`,
	}
	tmp, pkgDir := sdkTree(t, stubs)
	cmd := exec.Command("make", "-s", "compile", "TOPDIR="+tmp, "INCLUDE_DIR="+filepath.Join(tmp, "include"))
	cmd.Dir = pkgDir
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make compile: %v\n%s", err, b)
	}
	got := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			got[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	want, err := exec.Command("sh", "-c", ". "+filepath.Join(repo, "scripts/build/targets.sh")+` && echo "$GOTAGS" && echo $GOGCFLAGS`).Output()
	if err != nil {
		t.Fatal(err)
	}
	tags, gcflags, _ := strings.Cut(strings.TrimSpace(string(want)), "\n")
	if got["tags"] != tags {
		t.Errorf("SDK build tags %q, cross.sh's %q", got["tags"], tags)
	}
	// GO_PKG_GCFLAGS would be one -gcflags (one pattern) before the args.
	if sdk := strings.TrimSpace(got["gcflags"] + " " + got["args"]); sdk != gcflags {
		t.Errorf("SDK compiler flags\n%q\ncross.sh's\n%q", sdk, gcflags)
	}
}

// sdkTree lays out a stand-in SDK in a temporary folder: the stub files
// (path → text) and the package's real Makefile in a feed; it returns the
// SDK's top folder and the package's.
func sdkTree(t *testing.T, stubs map[string]string) (top, pkgDir string) {
	t.Helper()
	repo, _ := filepath.Abs("../..")
	top = t.TempDir()
	for name, text := range stubs {
		p := filepath.Join(top, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkgDir = filepath.Join(top, "feed/package/trustjoin")
	os.MkdirAll(pkgDir, 0o755)
	mk, err := os.ReadFile(filepath.Join(repo, "package/trustjoin/Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkgDir, "Makefile"), mk, 0o644); err != nil {
		t.Fatal(err)
	}
	return top, pkgDir
}
