package cli

import (
	"fmt"
	"log/slog"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/segment"
)

// plumbSegments makes sure the bridge of every segment that names one
// (option bridge) exists and is up, with the uplink's VLAN interface as a
// port (option uplink), before the firewall is told which interfaces carry
// which segment. hostapd makes the Wi-Fi side (<ap>.<vlan>, brvlan<vlan>);
// this is the wired side and the named bridges. A failure fails the
// configuration, so the daemon goes back to the one in force before.
// Nothing is ever deleted: a bridge dropped from the configuration stays
// until netifd or the user removes it.
func plumbSegments(log *slog.Logger, cfg *config.Config) error {
	var specs []segment.Spec
	owner := map[string]string{} // link -> segment, for the log
	for _, s := range cfg.Segments {
		if s.Bridge == "" {
			continue
		}
		sp := segment.Spec{Bridge: s.Bridge}
		owner[s.Bridge] = s.Name
		if s.Uplink != "" {
			sp.Uplink, sp.VLAN = s.Uplink, s.VLAN
			owner[sp.VLANIface()] = s.Name
		}
		specs = append(specs, sp)
	}
	if len(specs) == 0 {
		return nil
	}
	created, err := (&segment.Plumber{}).Ensure(specs)
	for _, l := range created {
		log.Info("segment: created interface", "segment", owner[l], "link", l)
	}
	if err != nil {
		return fmt.Errorf("segment interfaces: %v", err)
	}
	log.Debug("segment interfaces in place", "bridges", len(specs), "created", len(created))
	return nil
}
