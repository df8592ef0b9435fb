package behaviour

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Feed reads one NFLOG group and hands each packet to a handler. It is a
// daemon task.
type Feed struct {
	Log *slog.Logger
	// Group is the NFLOG group; the firewall's log rules name it.
	Group uint16
	// CopyRange is how much of each packet the kernel copies: headers
	// (128 bytes) for drops and connections, whole answers for DNS.
	CopyRange uint32
	// NetNS is a network namespace file descriptor; 0 is the process's
	// own. Tests use it.
	NetNS int
	// Handle receives each packet, in order.
	Handle func(Packet)

	once, bound sync.Once
	ready       chan struct{}
	// Lost counts the times the socket overflowed.
	Lost atomic.Uint64
}

// String implements the daemon's Task.
func (f *Feed) String() string { return fmt.Sprintf("NFLOG group %d", f.Group) }

// Ready is closed once the group is bound: from then on nothing logged
// to it is missed.
func (f *Feed) Ready() <-chan struct{} {
	f.once.Do(func() { f.ready = make(chan struct{}) })
	return f.ready
}

// Batching: the kernel hands over up to 32 packets, or what came within
// a quarter of a second, in one read.
const (
	qthresh = 32
	flush   = 250 * time.Millisecond
)

// Run binds the group and reads it until ctx is cancelled.
func (f *Feed) Run(ctx context.Context) error {
	log := f.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n, err := openNFLOG(f.NetNS, f.Group, f.CopyRange, qthresh, flush)
	if err != nil {
		return err
	}
	defer n.close()
	f.Ready()
	// Run may be called again after an error: ready stays closed.
	f.bound.Do(func() { close(f.ready) })
	for {
		ps, err := n.read(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errLost):
			if f.Lost.Add(1) == 1 {
				log.Warn("packets logged faster than read: some were lost", "group", f.Group)
			}
			continue
		case err != nil:
			return fmt.Errorf("failed to read NFLOG group %d: %v", f.Group, err)
		}
		for _, p := range ps {
			f.Handle(p)
		}
	}
}
