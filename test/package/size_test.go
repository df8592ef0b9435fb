package pkgtest

import (
	"bytes"
	"debug/buildinfo"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSizeBudget holds the mipsel_24kc daemon and package to their budget
// (scripts/build/size.sh, which `make size` runs): a change that makes
// them grow past it fails here, not on a router's flash.
func TestSizeBudget(t *testing.T) {
	cmd := exec.Command("../../scripts/build/size.sh")
	cmd.Env = append(cmd.Environ(), "IPK_OUT="+ipkDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/build/size.sh: %v\n%s", err, out)
	}
	t.Logf("\n%s", out)
	// The build tags that keep HTTP/2 out (scripts/build/targets.sh).
	files, _ := filepath.Glob(filepath.Join(ipkDir, "trustjoin_*_mipsel_24kc.ipk"))
	if len(files) != 1 {
		t.Fatalf("mipsel_24kc packages: %v", files)
	}
	bin := open(t, files[0]).data["./usr/bin/trustjoin"].data
	info, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range info.Settings {
		if s.Key == "-tags" && strings.Contains(","+s.Value+",", ",nethttpomithttp2,") {
			return
		}
	}
	t.Errorf("the mipsel_24kc binary was built without the tag nethttpomithttp2: %v", info.Settings)
}
