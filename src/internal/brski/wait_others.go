//go:build !linux

package brski

import (
	"net"
	"sync"
	"syscall"
)

// bufSize is the relay buffer, taken from a pool for each step.
const bufSize = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// waitReadable does not wait elsewhere than Linux: the read that follows
// blocks, holding its buffer.
func waitReadable(syscall.RawConn) (int, error) { return 0, nil }

// relayReady reads what src has (waiting for it) and writes it to dst.
func relayReady(dst, src *net.TCPConn, _ int, count func(int64)) error {
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	k, err := src.Read(*buf)
	if k > 0 {
		count(int64(k))
		if _, werr := dst.Write((*buf)[:k]); werr != nil {
			return werr
		}
	}
	return err
}
