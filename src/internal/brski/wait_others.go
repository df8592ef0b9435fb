//go:build !linux

package brski

import "syscall"

// waitReadable does not wait elsewhere than Linux: the read that follows
// blocks, holding its buffer.
func waitReadable(syscall.RawConn) error { return nil }
