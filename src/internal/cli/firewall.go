package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/brski"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/daemon"
	"github.com/trustjoin/trustjoin/src/internal/firewall"
)

// newFirewall returns the nftables enforcer for cfg's segments, carried by
// the interfaces hostapd makes for them on aps unless the configuration
// names others, with its tables installed. Settings the firewall refuses
// fail the configuration; a kernel that refuses the tables does not stop
// the daemon: the firewall task tries again.
func newFirewall(log *slog.Logger, cfg *config.Config, aps []config.Wifi) (*firewall.Enforcer, error) {
	names := make([]string, 0, len(aps))
	for _, w := range aps {
		names = append(names, w.Ifname)
	}
	segs := make([]firewall.Segment, 0, len(cfg.Segments))
	for _, s := range cfg.Segments {
		segs = append(segs, firewall.FromConfig(s, config.SegmentInterfaces(s, names)...))
	}
	fw := firewall.New(log, firewall.Options{Resolver: cfg.Main.Resolver, DHCPLeases: cfg.Main.DHCPLeases, Controllers: cfg.Controllers,
		LogGroup: uint16(cfg.Watch.LogGroup)})
	if err := fw.SetSegments(context.Background(), segs); err != nil {
		if errors.Is(err, firewall.ErrInvalid) {
			return nil, fmt.Errorf("firewall: %v", err)
		}
		log.Error("firewall: trustjoin's nftables tables could not be installed yet; devices are not confined until they are", "err", err)
	}
	if cfg.BRSKI.Enabled {
		for _, i := range cfg.BRSKI.Interfaces {
			for _, s := range segs {
				if slices.Contains(s.Ifaces, i) {
					log.Warn("firewall: a BRSKI join interface also carries a segment: its devices reach only the join proxy, DHCP and DNS", "interface", i, "segment", s.Name)
				}
			}
		}
		if err := fw.SetJoin(context.Background(), joinConfinement(cfg.BRSKI)); err != nil {
			if errors.Is(err, firewall.ErrInvalid) {
				return nil, fmt.Errorf("firewall: %v", err)
			}
			log.Error("firewall: the join segment's confinement could not be installed yet", "err", err)
		}
	}
	return fw, nil
}

// joinConfinement is what pledges on the BRSKI join interfaces may reach
// on the router: the proxy, and the stateless proxy with its CoAP
// discovery when that is on.
func joinConfinement(b config.BRSKI) firewall.Join {
	j := firewall.Join{Ifaces: b.Interfaces, ProxyPort: b.Port, IPv4: b.IPv4}
	if b.Stateless {
		j.CoAPPorts = []int{b.StatelessPort, brski.CoAPPort}
	}
	return j
}

// firewallTask keeps trustjoin's tables in place (restoring them after an
// fw4 reload or flush). It starts once the device owner has put every
// device back, so the tables a previous run left confine devices until
// then. A
// kernel that refuses the tables is retried, loudly, rather than stopping
// onboarding.
func firewallTask(log *slog.Logger, fw *firewall.Enforcer, restored <-chan struct{}) daemon.Task {
	return daemon.Func("firewall", func(ctx context.Context) error {
		select {
		case <-restored:
		case <-ctx.Done():
			return nil
		}
		for {
			err := fw.Run(ctx)
			if err == nil || ctx.Err() != nil {
				return nil
			}
			log.Error("firewall: failed to install trustjoin's nftables tables; devices are not confined, trying again in 10 s", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(10 * time.Second):
			}
		}
	})
}
