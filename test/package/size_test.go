package pkgtest

import (
	"debug/buildinfo"
	"os/exec"
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
	info, err := buildinfo.ReadFile("../../.build/bin/mipsel_24kc/trustjoin")
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
