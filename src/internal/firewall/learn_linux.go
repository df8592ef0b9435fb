package firewall

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/dnsmasq"
)

// syncLocked mirrors newly learned and expired addresses (plan_learn.go),
// after binding governed devices' own addresses to them.
func (e *Enforcer) syncLocked() {
	cur, err := e.k.learned(e.st.table)
	if err != nil {
		e.log.Warn("failed to read learned addresses", "err", err)
		return
	}
	e.bindOwners(cur)
	b, commit := e.st.planSync(cur)
	if err := e.k.run(b); err != nil {
		e.log.Warn("failed to mirror learned addresses", "err", err)
		return
	}
	commit()
}

// bindOwners makes each governed device's own addresses its own in the
// learned map and in cur (see planOwners).
func (e *Enforcer) bindOwners(cur map[netip.Addr]string) {
	b, taken := e.st.planOwners(cur, e.leases())
	if b == nil {
		return
	}
	if err := e.k.run(b); err != nil {
		e.log.Warn("failed to bind addresses to their devices", "err", err)
		return
	}
	for a, mac := range taken {
		if have, known := cur[a]; known {
			e.log.Info("address taken back for its device", "address", a, "mac", net.HardwareAddr(mac).String(), "claimed_by", net.HardwareAddr(have).String())
		}
		cur[a] = mac
	}
}

// leases reads dnsmasq's lease file (again only when dnsmasq has
// rewritten it: Run syncs twice a second): address -> MAC, never nil.
func (e *Enforcer) leases() map[netip.Addr]string {
	if e.opts.DHCPLeases == "" {
		return map[netip.Addr]string{}
	}
	fi, err := os.Stat(e.opts.DHCPLeases)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			e.log.Warn("failed to read the DHCP leases", "err", err)
		}
		return map[netip.Addr]string{}
	}
	if !fi.ModTime().Equal(e.leaseFile.mod) || fi.Size() != e.leaseFile.size {
		b, err := os.ReadFile(e.opts.DHCPLeases)
		if err != nil {
			e.log.Warn("failed to read the DHCP leases", "err", err)
			return map[netip.Addr]string{}
		}
		e.leaseFile.mod, e.leaseFile.size, e.leaseFile.data = fi.ModTime(), fi.Size(), b
	}
	out := map[netip.Addr]string{}
	for _, l := range dnsmasq.ParseLeases(bytes.NewReader(e.leaseFile.data), time.Now()) {
		out[l.Addr] = string(l.MAC)
	}
	return out
}
