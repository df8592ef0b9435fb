package web

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdLimit is the process's descriptor limit (RLIMIT_NOFILE, soft).
func fdLimit() (int, bool) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil || r.Cur == unix.RLIM_INFINITY || r.Cur > 1<<30 {
		return 0, false
	}
	return int(r.Cur), true
}

// openFDs counts the process's open descriptors.
func openFDs() (int, bool) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	defer d.Close()
	n := 0
	for {
		names, err := d.Readdirnames(256)
		n += len(names)
		if err != nil || len(names) == 0 {
			break
		}
	}
	// Not the directory's own descriptor.
	return n - 1, true
}
