package firewall

import (
	"context"
	"fmt"
	"slices"
)

// SetJoin replaces the join segment's confinement in one batch; on
// failure the previous one stays in force. An empty Ifaces lifts it.
func (e *Enforcer) SetJoin(ctx context.Context, j Join) error {
	if err := validateJoin(j); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	j.Ifaces, j.CoAPPorts = slices.Clone(j.Ifaces), slices.Clone(j.CoAPPorts)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.installed {
		// As SetSegments: kept for Run to install if the kernel refuses.
		e.st.join = j
		return e.installLocked()
	}
	var ports map[string][]string
	if e.st.portMode && len(j.Ifaces) > 0 {
		p, err := bridgePorts(e.opts.NetNS, j.Ifaces)
		if err != nil {
			return err
		}
		ports = p
	}
	b := e.st.planJoinChange(j, ports)
	if b == nil {
		return nil
	}
	if err := e.k.run(b); err != nil {
		return fmt.Errorf("failed to apply the join segment's confinement: %v", err)
	}
	e.st.join = j
	return nil
}
