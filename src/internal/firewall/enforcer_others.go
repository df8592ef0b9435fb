//go:build !linux

package firewall

import (
	"context"
	"errors"
	"log/slog"
)

var errNotLinux = errors.New("firewall: nftables needs Linux")

// Enforcer is a stand-in off Linux: every call fails.
type Enforcer struct{}

// New returns an Enforcer that fails off Linux.
func New(*slog.Logger, Options) *Enforcer { return &Enforcer{} }

// SetSegments fails off Linux.
func (*Enforcer) SetSegments(context.Context, []Segment) error { return errNotLinux }

// Apply fails off Linux.
func (*Enforcer) Apply(context.Context, Device) error { return errNotLinux }

// Remove fails off Linux.
func (*Enforcer) Remove(context.Context, string) error { return errNotLinux }

// Counters fails off Linux.
func (*Enforcer) Counters(string) (Counters, error) { return Counters{}, errNotLinux }

// AllCounters fails off Linux.
func (*Enforcer) AllCounters() (map[string]Counters, error) { return nil, errNotLinux }

// Run fails off Linux.
func (*Enforcer) Run(context.Context) error { return errNotLinux }

// Ready is false off Linux.
func (*Enforcer) Ready() bool { return false }

// Rules fails off Linux.
func (*Enforcer) Rules(string) (string, error) { return "", errNotLinux }

// LogConnections fails off Linux.
func (*Enforcer) LogConnections(context.Context, []string) error { return errNotLinux }
