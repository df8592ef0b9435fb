package brski

import (
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxStep bounds one splice, so the counters and the last-activity time
// follow a long transfer as it goes: a megabyte is one round of Go's
// splice with its pipe full.
const maxStep = 1 << 20

// waitReadable blocks until the socket has data or an end to read, without
// needing a buffer: it peeks one byte and lets Go's poller wait while
// there is none. It returns how many bytes are queued; zero means an end
// or an error, which a read then reports.
func waitReadable(raw syscall.RawConn) (int, error) {
	var (
		b     [1]byte
		ready int
		err   error
	)
	rerr := raw.Read(func(fd uintptr) bool {
		var perr error
		_, _, perr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if perr == unix.EAGAIN || perr == unix.EINTR {
			return false
		}
		if perr == nil {
			ready, err = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
		}
		return true
	})
	if rerr != nil {
		return 0, rerr
	}
	return ready, err
}

// relayReady moves the ready bytes from src to dst by splice(2) through a
// pipe of Go's pool, taken only for this step: the bytes never enter user
// space. Asking for no more than is queued keeps the splice from waiting
// for more while holding the pipe. With nothing ready it reads src's end
// or error instead.
func relayReady(dst, src *net.TCPConn, ready int, count func(int64)) error {
	if ready == 0 {
		var b [1]byte
		k, err := src.Read(b[:])
		if k > 0 { // cannot happen: nothing was queued; relayed all the same
			count(int64(k))
			if _, werr := dst.Write(b[:k]); werr != nil {
				return werr
			}
		}
		return err
	}
	want := int64(min(ready, maxStep))
	count(want)
	moved, err := dst.ReadFrom(&io.LimitedReader{R: src, N: want})
	if moved < want {
		count(moved - want)
		if err == nil {
			err = io.ErrUnexpectedEOF // src ended with bytes still counted as queued
		}
	}
	return err
}
