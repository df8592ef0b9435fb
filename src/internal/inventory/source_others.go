//go:build !linux

package inventory

import (
	"context"
	"errors"
	"net"
	"net/netip"
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

// MACOf fails: the neighbour table is Linux's.
func (SystemSource) MACOf(addr netip.Addr, ifname string) (net.HardwareAddr, error) {
	return nil, errors.New("inventory: only on Linux: " + os.ErrNotExist.Error())
}
