package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/firewall"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// fakeFirewall holds rules for device d-cam only.
type fakeFirewall struct{}

func (fakeFirewall) Rules(id string) (string, error) {
	if id != "d-cam" {
		return "", errors.New("no device " + id)
	}
	return "table inet trustjoin {\n}\n", nil
}

func (fakeFirewall) Counters(string) (firewall.Counters, error) {
	return firewall.Counters{AcceptedPackets: 7, DroppedPackets: 3, DroppedBytes: 180}, nil
}

// What `trustjoin mud show` is told: the rules and counters of a device
// the firewall holds, and otherwise why it holds none.
func TestEnforced(t *testing.T) {
	s, _ := newService(t, defaults(t),
		registry.Device{ID: "d-cam", Name: "Camera", Segment: "iot", MACs: []string{"02:00:00:00:00:07"}, State: registry.StateConnected},
		registry.Device{ID: "d-plug", Name: "Plug", Segment: "iot", MACs: []string{"02:00:00:00:00:08"}, State: registry.StateConnected},
		registry.Device{ID: "d-bell", Name: "Doorbell", Segment: "iot", State: registry.StateOnboarding})
	ctx := context.Background()
	if e, err := s.Enforced(ctx, "Camera"); err != nil || e.InFirewall || !strings.Contains(e.Reason, "firewall is off") {
		t.Errorf("no firewall: %+v %v", e, err)
	}
	s.SetFirewall(fakeFirewall{})
	e, err := s.Enforced(ctx, "Camera")
	if err != nil || !e.InFirewall || e.Device.ID != "d-cam" || e.Rules == "" || e.Counters == nil || e.Counters.DroppedBytes != 180 {
		t.Errorf("camera: %+v %v", e, err)
	}
	for name, want := range map[string]string{"Plug": "holds no rules for the device yet", "Doorbell": "no MAC address"} {
		if e, err := s.Enforced(ctx, name); err != nil || e.InFirewall || !strings.Contains(e.Reason, want) {
			t.Errorf("%s: %+v %v", name, e, err)
		}
	}
	if _, err := s.Enforced(ctx, "Nobody"); err == nil {
		t.Error("an unknown device")
	}
}
