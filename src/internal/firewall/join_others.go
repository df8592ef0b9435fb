//go:build !linux

package firewall

import "context"

// SetJoin fails off Linux.
func (*Enforcer) SetJoin(context.Context, Join) error { return errNotLinux }
