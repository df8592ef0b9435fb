package segment

import (
	"fmt"
	"strconv"
)

// Spec is one segment's plumbing.
type Spec struct {
	// Bridge carries the segment (e.g. "br-iot").
	Bridge string
	// Uplink and VLAN, when VLAN is set, ask for the VLAN interface
	// <Uplink>.<VLAN> as a port of Bridge.
	Uplink string
	VLAN   int
}

// VLANIface names the VLAN interface of a spec.
func (s Spec) VLANIface() string { return s.Uplink + "." + strconv.Itoa(s.VLAN) }

func (s Spec) validate() error {
	if s.Bridge == "" || len(s.Bridge) > 15 {
		return fmt.Errorf("segment bridge name %q: 1 to 15 characters", s.Bridge)
	}
	if s.VLAN == 0 {
		return nil
	}
	if s.VLAN < 1 || s.VLAN > 4094 {
		return fmt.Errorf("segment VLAN %d: must be 1-4094", s.VLAN)
	}
	if s.Uplink == "" {
		return fmt.Errorf("segment VLAN %d: no uplink interface", s.VLAN)
	}
	if len(s.VLANIface()) > 15 {
		return fmt.Errorf("VLAN interface name %q is longer than 15 characters", s.VLANIface())
	}
	return nil
}
