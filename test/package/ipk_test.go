package pkgtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var ipkDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trustjoin-ipk-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ipkDir = dir
	cmd := exec.Command("../../scripts/build/ipk.sh")
	cmd.Env = append(os.Environ(), "IPK_OUT="+dir, "VERSION=1.2.3-r4", "VENDOR=00D09E")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "scripts/build/ipk.sh failed:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// member is one file of a tar archive.
type member struct {
	hdr  *tar.Header
	data []byte
}

// untgz reads a gzip-compressed tar completely.
func untgz(t *testing.T, b []byte) map[string]member {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	tr := tar.NewReader(zr)
	out := map[string]member{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("bad tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = member{h, data}
	}
}

// ipk is an unpacked package, read as opkg does: gunzip, untar, then the
// control and data archives inside.
type ipk struct {
	name    string
	outer   map[string]member
	control map[string]member
	data    map[string]member
	fields  map[string]string
}

func open(t *testing.T, path string) *ipk {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(b, []byte("!<arch>")) {
		t.Fatal("package is an ar archive: OpenWrt's opkg reads only gzip-compressed tar")
	}
	p := &ipk{name: filepath.Base(path), outer: untgz(t, b)}
	var names []string
	for n := range p.outer {
		names = append(names, n)
	}
	for _, want := range []string{"./debian-binary", "./control.tar.gz", "./data.tar.gz"} {
		if _, ok := p.outer[want]; !ok {
			t.Fatalf("%s: outer archive lacks %s (has %v)", p.name, want, names)
		}
	}
	if len(p.outer) != 3 {
		t.Fatalf("%s: outer archive has %d members, want 3: %v", p.name, len(p.outer), names)
	}
	if got := string(p.outer["./debian-binary"].data); got != "2.0\n" {
		t.Fatalf("%s: debian-binary %q", p.name, got)
	}
	p.control = untgz(t, p.outer["./control.tar.gz"].data)
	p.data = untgz(t, p.outer["./data.tar.gz"].data)
	p.fields = map[string]string{}
	for _, line := range strings.Split(string(p.control["./control"].data), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, " ") {
			p.fields[k] = v
		}
	}
	return p
}

var targets = map[string]struct {
	machine elf.Machine
	class   elf.Class
	order   string // "LE" or "BE"
	setting string // the Go build setting that must be recorded
}{
	"mips_24kc":                {elf.EM_MIPS, elf.ELFCLASS32, "BE", "GOMIPS=softfloat"},
	"mipsel_24kc":              {elf.EM_MIPS, elf.ELFCLASS32, "LE", "GOMIPS=softfloat"},
	"arm_cortex-a7":            {elf.EM_ARM, elf.ELFCLASS32, "LE", "GOARM=5"},
	"arm_cortex-a7_neon-vfpv4": {elf.EM_ARM, elf.ELFCLASS32, "LE", "GOARM=7"},
	"aarch64_cortex-a53":       {elf.EM_AARCH64, elf.ELFCLASS64, "LE", "GOARCH=arm64"},
	"x86_64":                   {elf.EM_X86_64, elf.ELFCLASS64, "LE", "GOAMD64=v1"},
}

func TestPackages(t *testing.T) {
	seen := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(ipkDir, "*.ipk"))
	nameRE := regexp.MustCompile(`^(trustjoin|luci-app-trustjoin)_1\.2\.3-r4_([a-z0-9_-]+)\.ipk$`)
	for _, f := range files {
		m := nameRE.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			t.Errorf("unexpected package file name %s", filepath.Base(f))
			continue
		}
		pkg, arch := m[1], m[2]
		t.Run(filepath.Base(f), func(t *testing.T) {
			p := open(t, f)
			checkCommon(t, p, pkg, arch)
			if pkg == "luci-app-trustjoin" {
				if arch != "all" {
					t.Fatalf("LuCI app must be Architecture: all, is %s", arch)
				}
				checkLuCIPackage(t, p)
				return
			}
			checkDaemonPackage(t, p, arch)
		})
		seen[pkg+"/"+arch] = true
	}
	for arch := range targets {
		if !seen["trustjoin/"+arch] {
			t.Errorf("no trustjoin package for %s", arch)
		}
	}
	if !seen["luci-app-trustjoin/all"] {
		t.Error("no luci-app-trustjoin package")
	}
}

func checkCommon(t *testing.T, p *ipk, pkg, arch string) {
	for _, f := range []string{"Package", "Version", "Depends", "Source", "Section", "Maintainer", "Architecture", "Installed-Size", "Description"} {
		if p.fields[f] == "" {
			t.Errorf("control field %s missing or empty", f)
		}
	}
	if p.fields["Package"] != pkg || p.fields["Architecture"] != arch || p.fields["Version"] != "1.2.3-r4" {
		t.Errorf("control says %s %s %s, file name says %s %s 1.2.3-r4",
			p.fields["Package"], p.fields["Version"], p.fields["Architecture"], pkg, arch)
	}
	for _, m := range p.data {
		if m.hdr.Uid != 0 || m.hdr.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want root", m.hdr.Name, m.hdr.Uid, m.hdr.Gid)
		}
	}
	// As OpenWrt's ipkg-build computes it: the uncompressed data.tar.
	zr, err := gzip.NewReader(bytes.NewReader(p.outer["./data.tar.gz"].data))
	if err != nil {
		t.Fatal(err)
	}
	size, _ := io.Copy(io.Discard, zr)
	if got, _ := strconv.ParseInt(p.fields["Installed-Size"], 10, 64); got != size {
		t.Errorf("Installed-Size %s, data.tar is %d bytes", p.fields["Installed-Size"], size)
	}
	// opkg gives / the mode of data.tar's "./": a 0700 there locks every
	// user but root out of the whole file system.
	for archive, members := range map[string]map[string]member{"data": p.data, "control": p.control} {
		m, ok := members["./"]
		if !ok {
			t.Errorf("%s.tar.gz has no root entry", archive)
		} else if m.hdr.Mode&0o7777 != 0o755 {
			t.Errorf("%s.tar.gz root entry mode %o, want 0755", archive, m.hdr.Mode&0o7777)
		}
	}
	// The SDK's maintainer scripts: enable+start on install, stop on remove.
	for script, fn := range map[string]string{"./postinst": "default_postinst $0 $@", "./prerm": "default_prerm $0 $@"} {
		m, ok := p.control[script]
		if !ok {
			t.Errorf("no %s", script)
			continue
		}
		if !strings.Contains(string(m.data), fn) || !strings.Contains(string(m.data), "${IPKG_INSTROOT}/lib/functions.sh") {
			t.Errorf("%s does not follow OpenWrt's convention:\n%s", script, m.data)
		}
		if m.hdr.Mode&0o111 == 0 {
			t.Errorf("%s is not executable", script)
		}
	}
}

func checkDaemonPackage(t *testing.T, p *ipk, arch string) {
	if got := strings.TrimSpace(string(p.control["./conffiles"].data)); got != "/etc/config/trustjoin" {
		t.Errorf("conffiles = %q", got)
	}
	for _, dep := range []string{"kmod-nft-bridge", "kmod-nfnetlink-log", "nftables", "hostapd-common"} {
		if !strings.Contains(p.fields["Depends"], dep) {
			t.Errorf("Depends %q lacks %s", p.fields["Depends"], dep)
		}
	}
	modes := map[string]int64{
		"./usr/bin/trustjoin":          0o755,
		"./etc/config/trustjoin":       0o600,
		"./etc/init.d/trustjoin":       0o755,
		"./usr/libexec/rpcd/trustjoin": 0o755,
		// Run by the install script and by the daemon on a hostapd swap.
		"./usr/libexec/trustjoin/hostapd-vlans": 0o755,
		// Also what makes OpenWrt's dnsmasq run its DHCP script at all.
		"./etc/hotplug.d/dhcp/50-trustjoin-mud": 0o755,
		// The TR-069 data model for bbfdm (icwmp, USP agents) and easycwmp.
		// (named after the ISP: VENDOR, TR-106).
		"./usr/share/bbfdm/plugins/X_00D09E_TrustJoin.json": 0o644,
		"./usr/share/easycwmp/functions/trustjoin":          0o644,
	}
	for name, mode := range modes {
		m, ok := p.data[name]
		if !ok {
			t.Errorf("data lacks %s", name)
			continue
		}
		if m.hdr.Mode&0o7777 != mode {
			t.Errorf("%s mode %o, want %o", name, m.hdr.Mode&0o7777, mode)
		}
	}
	if _, ok := p.data["./lib/systemd/system/trustjoin.service"]; ok {
		t.Error("the systemd unit has no place on OpenWrt")
	}
	if !strings.Contains(string(p.data["./etc/init.d/trustjoin"].data), "USE_PROCD=1") {
		t.Error("init script is not a procd script")
	}

	bin := p.data["./usr/bin/trustjoin"].data
	want := targets[arch]
	ef, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("binary is not ELF: %v", err)
	}
	order := "LE"
	if ef.ByteOrder.String() == "BigEndian" {
		order = "BE"
	}
	if ef.Machine != want.machine || ef.Class != want.class || order != want.order {
		t.Fatalf("binary is %v %v %s, want %v %v %s", ef.Machine, ef.Class, order, want.machine, want.class, want.order)
	}
	if ef.Section(".symtab") != nil {
		t.Error("binary is not stripped")
	}
	// Hard-float MIPS binaries die with "Illegal instruction" on OpenWrt:
	// the ABI flags' fp_abi byte must say soft float (3), not double (1).
	if want.machine == elf.EM_MIPS {
		s := ef.Section(".MIPS.abiflags")
		if s == nil {
			t.Fatal("MIPS binary has no .MIPS.abiflags section")
		}
		b, err := s.Data()
		if err != nil || len(b) < 8 {
			t.Fatalf("bad .MIPS.abiflags: %v", err)
		}
		if fp := b[7]; fp != 3 {
			t.Fatalf("MIPS binary fp_abi = %d, want 3 (soft float)", fp)
		}
	}
	info, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("no Go build info: %v", err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	k, v, _ := strings.Cut(want.setting, "=")
	if settings[k] != v {
		t.Errorf("binary built with %s=%q, want %s", k, settings[k], want.setting)
	}
	if settings["CGO_ENABLED"] != "0" {
		t.Errorf("binary built with CGO_ENABLED=%q, want 0", settings["CGO_ENABLED"])
	}
}

// checkLuCIPackage: the views, menu and ACL are installed where LuCI and
// rpcd look, and the Status page carries the package's version, which it
// compares with the daemon's.
func checkLuCIPackage(t *testing.T, p *ipk) {
	for _, f := range []string{
		"./www/luci-static/resources/view/trustjoin/devices.js",
		"./www/luci-static/resources/view/trustjoin/add.js",
		"./www/luci-static/resources/view/trustjoin/segments.js",
		"./www/luci-static/resources/view/trustjoin/status.js",
		"./www/luci-static/resources/view/status/include/75_trustjoin.js",
		"./www/luci-static/resources/trustjoin/jsQR.js",
		"./www/luci-static/resources/trustjoin/rpc.js",
		"./usr/share/luci/menu.d/luci-app-trustjoin.json",
		"./usr/share/rpcd/acl.d/luci-app-trustjoin.json",
	} {
		if _, ok := p.data[f]; !ok {
			t.Errorf("LuCI package lacks %s", f)
		}
	}
	if s := string(p.data["./www/luci-static/resources/view/trustjoin/status.js"].data); !strings.Contains(s, "var APP_VERSION = '1.2.3-r4';") {
		t.Error("status.js is not stamped with the package version 1.2.3-r4")
	}
}
