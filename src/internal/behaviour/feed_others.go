//go:build !linux

package behaviour

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
)

// Feed reads an NFLOG group; only on Linux.
type Feed struct {
	Log       *slog.Logger
	Group     uint16
	CopyRange uint32
	NetNS     int
	Handle    func(Packet)
	Lost      atomic.Uint64
}

// String implements the daemon's Task.
func (f *Feed) String() string { return "NFLOG" }

// Ready is never closed.
func (f *Feed) Ready() <-chan struct{} { return nil }

// Run fails: NFLOG is Linux's.
func (f *Feed) Run(context.Context) error { return errors.New("NFLOG is only on Linux") }
