//go:build !linux

package inventory

import (
	"context"
	"errors"
	"os"
	"time"
)

// SystemSource reads the router's kernel; only on Linux.
type SystemSource struct {
	Leases string
	NetNS  int
	NoWifi bool
	Fresh  time.Duration
}

type systemSource = SystemSource

// Snapshot fails: the kernel's tables are Linux's.
func (SystemSource) Snapshot(context.Context) (Snapshot, error) {
	return Snapshot{}, errors.New("inventory: only on Linux: " + os.ErrNotExist.Error())
}
