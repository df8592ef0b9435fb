package lifecycle

import (
	"context"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/firewall"
)

// Firewall is what the household's view reads from the firewall:
// *firewall.Enforcer.
type Firewall interface {
	Rules(id string) (string, error)
	Counters(id string) (firewall.Counters, error)
}

// SetFirewall gives the Service the firewall; without it, Enforced says
// the firewall is off.
func (s *Service) SetFirewall(f Firewall) { s.fw = f }

// Enforced implements api.Service.
func (s *Service) Enforced(_ context.Context, id string) (api.Enforced, error) {
	d, err := s.devices.Device(id)
	if err != nil {
		return api.Enforced{}, err
	}
	out := api.Enforced{Device: s.device(d, s.devices.InForce(d.ID))}
	switch {
	case s.fw == nil:
		out.Reason = "trustjoin's firewall is off (main.firewall '0'): nothing filters this device's traffic"
		return out, nil
	case len(d.MACs) == 0:
		out.Reason = "no MAC address is known for the device yet: until it connects, only its segment's VLAN confines it"
		return out, nil
	}
	rules, err := s.fw.Rules(d.ID)
	if err != nil {
		out.Reason = "the firewall holds no rules for the device yet (" + err.Error() + "); trustjoin keeps trying"
		return out, nil
	}
	c, err := s.fw.Counters(d.ID)
	if err != nil {
		out.Reason = "the firewall's counters could not be read: " + err.Error()
		return out, nil
	}
	out.InFirewall, out.Rules = true, rules
	out.Counters = &api.PolicyCounters{AcceptedPackets: c.AcceptedPackets, AcceptedBytes: c.AcceptedBytes,
		DroppedPackets: c.DroppedPackets, DroppedBytes: c.DroppedBytes}
	return out, nil
}
