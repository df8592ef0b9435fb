package firewall

import (
	"net/netip"
	"slices"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
)

// flushFlowsLocked deletes the conntrack entries of a device's addresses,
// so its established flows are judged again on their next packet (and
// offloaded flows leave the flowtable). Its addresses are those the
// enforcer has learned and those in the kernel's neighbour tables (the
// router answers nothing it has no neighbour entry for). Listing
// conntrack walks the whole (all-namespace) table, milliseconds: only
// quarantine waits for it, other changes let it run behind.
func (e *Enforcer) flushFlowsLocked(d Device, wait bool) {
	learned := e.st.addrsOf(d.MACs...)
	if wait {
		e.flushFlows(d, learned)
		return
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		e.flushFlows(d, learned)
	}()
}

func (e *Enforcer) flushFlows(d Device, addrs []netip.Addr) {
	if n, err := neighbours(e.opts.NetNS, d.MACs); err == nil {
		for _, a := range n {
			if !slices.Contains(addrs, a) {
				addrs = append(addrs, a)
			}
		}
	} else {
		e.log.Warn("failed to read the neighbour table", "device", d.ID, "err", err)
	}
	if len(addrs) == 0 {
		return
	}
	c, err := conntrack.Dial(&netlink.Config{NetNS: e.opts.NetNS})
	if err != nil {
		e.log.Warn("failed to open conntrack", "err", err)
		return
	}
	defer c.Close()
	flows, err := c.Dump(nil)
	if err != nil {
		e.log.Warn("failed to list conntrack entries", "device", d.ID, "err", err)
		return
	}
	n := 0
	for _, f := range flows {
		for _, a := range addrs {
			if f.TupleOrig.IP.SourceAddress == a || f.TupleOrig.IP.DestinationAddress == a {
				if err := c.Delete(f); err == nil {
					n++
				}
				break
			}
		}
	}
	e.log.Debug("flushed a device's flows", "device", d.ID, "flows", n)
}
