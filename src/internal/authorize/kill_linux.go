package authorize

import (
	"os/exec"
	"syscall"
	"time"
)

// killGroup runs the hook in a process group of its own and, when it
// times out, kills the whole group: a shell script's children (curl to an
// attestation service) must not outlive it.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Children that keep the output pipes open would otherwise hold Wait.
	cmd.WaitDelay = time.Second
}
