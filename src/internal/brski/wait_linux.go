package brski

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// waitReadable blocks until the socket has data or an end to read, without
// needing a buffer: it peeks one byte and lets Go's poller wait while
// there is none. The read that follows reports what was found.
func waitReadable(raw syscall.RawConn) error {
	var b [1]byte
	return raw.Read(func(fd uintptr) bool {
		_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return err != unix.EAGAIN && err != unix.EINTR
	})
}
