package firewall

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/google/nftables"
)

// The kernel learns "address -> MAC" from devices' packets (ip4mac,
// ip6mac, with a timeout); the enforcer mirrors that into ip4dev/ip6dev
// (address -> the device's "to" chain) and into the address sets of the
// groups the device belongs to. Chaining map lookups in the kernel would
// do the same without userspace, but nft cannot print such rules, and
// `nft list` must keep working for fw4 and LuCI.

// pushed is what the enforcer put in the kernel for one address.
type pushed struct {
	entry  int // the device's serial: its entry chains
	groups []string
}

func (p pushed) equal(q pushed) bool { return p.entry == q.entry && slices.Equal(p.groups, q.groups) }

// dumpLearned reads the learned addresses.
func (e *Enforcer) dumpLearned() (map[netip.Addr]string, error) {
	c, err := e.conn()
	if err != nil {
		return nil, err
	}
	t := e.table(nftables.TableFamilyINet)
	out := map[netip.Addr]string{}
	for _, s := range []*nftables.Set{learnedMap(t, 4), learnedMap(t, 6)} {
		els, err := c.GetSetElements(s)
		if err != nil {
			return nil, err
		}
		for _, el := range els {
			if a, ok := netip.AddrFromSlice(el.Key); ok && len(el.Val) >= 6 && !a.IsUnspecified() {
				out[a] = string(el.Val[:6])
			}
		}
	}
	return out, nil
}

// learnedMap is the map of learned addresses of family v (4 or 6) to MACs.
func learnedMap(t *nftables.Table, v int) *nftables.Set {
	if v == 6 {
		return &nftables.Set{Table: t, Name: setIP6MAC, IsMap: true, KeyType: nftables.TypeIP6Addr, DataType: nftables.TypeEtherAddr, HasTimeout: true}
	}
	return &nftables.Set{Table: t, Name: setIP4MAC, IsMap: true, KeyType: nftables.TypeIPAddr, DataType: nftables.TypeEtherAddr, HasTimeout: true}
}

// desired says what address a, used by MAC mac, should have in the
// kernel, given the devices devs (by MAC).
func (e *Enforcer) desired(byMAC map[string]*devState, mac string) (pushed, bool) {
	st, ok := byMAC[mac]
	if !ok {
		return pushed{}, false
	}
	member, _ := e.groupsOf(st.dev)
	return pushed{entry: st.n, groups: member}, true
}

func (e *Enforcer) byMAC() map[string]*devState {
	m := map[string]*devState{}
	for _, st := range e.devs {
		for _, mac := range st.dev.MACs {
			m[string(mac)] = st
		}
	}
	return m
}

// ipDiff adds to the batch what brings the addresses addrs in line with
// the learned map and the devices, and returns the new pushed state of
// those addresses (to keep once the batch is in). Group memberships an
// address loses go to later when it is given (see garbage), else into the
// batch.
func (e *Enforcer) ipDiff(c *nftables.Conn, addrs []netip.Addr, byMAC map[string]*devState, later *garbage) (map[netip.Addr]*pushed, error) {
	t := e.table(nftables.TableFamilyINet)
	adds := map[string][]nftables.SetElement{}
	dels := map[string][]nftables.SetElement{}
	next := map[netip.Addr]*pushed{}
	for _, a := range addrs {
		devSet := setIP4Dev
		v := 4
		if a.Is6() && !a.Is4In6() {
			devSet, v = setIP6Dev, 6
		}
		have, had := e.pushed[a]
		want, wanted := pushed{}, false
		if mac, ok := e.synced[a]; ok {
			want, wanted = e.desired(byMAC, mac)
		}
		if had && wanted && have.equal(want) {
			continue
		}
		key := a.AsSlice()
		sameEntry := had && wanted && have.entry == want.entry
		if had && !sameEntry {
			dels[devSet] = append(dels[devSet], nftables.SetElement{Key: key})
		}
		if wanted && !sameEntry {
			adds[devSet] = append(adds[devSet], nftables.SetElement{Key: key, VerdictData: jump(entryChain(want.entry, sideIn))})
		}
		for _, g := range have.groups {
			switch {
			case wanted && slices.Contains(want.groups, g):
			case later != nil && wanted:
				// Still governed: its own chains decide; an address no
				// longer governed leaves at once.
				later.leave = append(later.leave, leave{fam: nftables.TableFamilyINet, group: g, v: v, key: key})
			default:
				n := groupIPSet(t, g, v).Name
				dels[n] = append(dels[n], nftables.SetElement{Key: key})
			}
		}
		for _, g := range want.groups {
			n := groupIPSet(t, g, v).Name
			adds[n] = append(adds[n], nftables.SetElement{Key: key})
		}
		if wanted {
			w := want
			next[a] = &w
		} else {
			next[a] = nil
		}
	}
	set := func(name string) *nftables.Set {
		switch name {
		case setIP4Dev, setIP6Dev:
			return devMap(t, name)
		}
		if name[len(name)-1] == '6' {
			return &nftables.Set{Table: t, Name: name, KeyType: nftables.TypeIP6Addr}
		}
		return &nftables.Set{Table: t, Name: name, KeyType: nftables.TypeIPAddr}
	}
	for n, el := range dels {
		if err := c.SetDeleteElements(set(n), el); err != nil {
			return nil, err
		}
	}
	for n, el := range adds {
		if err := c.SetAddElements(set(n), el); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// commitPushed records what a batch put in.
func (e *Enforcer) commitPushed(next map[netip.Addr]*pushed) {
	for a, p := range next {
		if p == nil {
			delete(e.pushed, a)
		} else {
			e.pushed[a] = *p
		}
	}
}

// addrsOf lists the learned addresses of the given MACs.
func (e *Enforcer) addrsOf(macs ...[]byte) []netip.Addr {
	var out []netip.Addr
	for a, m := range e.synced {
		for _, mac := range macs {
			if m == string(mac) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// syncLocked mirrors newly learned and expired addresses.
func (e *Enforcer) syncLocked() {
	cur, err := e.dumpLearned()
	if err != nil {
		e.log.Warn("failed to read learned addresses", "err", err)
		return
	}
	byMAC := e.byMAC()
	e.bindOwners(cur, byMAC)
	e.synced = cur
	var addrs []netip.Addr
	for a := range cur {
		addrs = append(addrs, a)
	}
	for a := range e.pushed {
		if _, ok := cur[a]; !ok {
			addrs = append(addrs, a)
		}
	}
	c, err := e.conn()
	if err != nil {
		return
	}
	next, err := e.ipDiff(c, addrs, byMAC, nil)
	if err != nil {
		e.log.Warn("failed to mirror learned addresses", "err", err)
		return
	}
	if err := c.Flush(); err != nil {
		e.log.Warn("failed to mirror learned addresses", "err", err)
		return
	}
	e.commitPushed(next)
}

// bindOwners makes each governed device's own addresses its own in the
// learned map (and in cur), over whoever sent from them first: the
// kernel's learning never overwrites an address it knows, so a host that
// claimed an address before its owner, or kept one dnsmasq has since
// leased to another device, would otherwise keep it until it went quiet
// for the learn timeout. A device owns its leased IPv4 addresses and the
// IPv6 addresses formed from its MAC (modified EUI-64, RFC 4291 2.5.1).
func (e *Enforcer) bindOwners(cur map[netip.Addr]string, byMAC map[string]*devState) {
	owners := e.leases()
	eui := map[[8]byte]string{}
	for mac := range byMAC {
		if len(mac) == 6 {
			eui[eui64(mac)] = mac
		}
	}
	for a := range cur {
		if b := a.As16(); a.Is6() && !a.Is4In6() {
			if mac, ok := eui[[8]byte(b[8:])]; ok {
				owners[a] = mac
			}
		}
	}
	add := map[int][]nftables.SetElement{}
	del := map[int][]nftables.SetElement{}
	for a, mac := range owners {
		if _, governed := byMAC[mac]; !governed {
			continue
		}
		have, known := cur[a]
		if known && have == mac {
			continue
		}
		v := 4
		if a.Is6() {
			v = 6
		}
		if known {
			del[v] = append(del[v], nftables.SetElement{Key: a.AsSlice()})
		}
		add[v] = append(add[v], nftables.SetElement{Key: a.AsSlice(), Val: []byte(mac)})
	}
	if len(add) == 0 {
		return
	}
	c, err := e.conn()
	if err != nil {
		return
	}
	for v, els := range add {
		set := learnedMap(e.table(nftables.TableFamilyINet), v)
		if len(del[v]) > 0 {
			if err := c.SetDeleteElements(set, del[v]); err != nil {
				return
			}
		}
		if err := c.SetAddElements(set, els); err != nil {
			return
		}
	}
	if err := c.Flush(); err != nil {
		e.log.Warn("failed to bind addresses to their devices", "err", err)
		return
	}
	for _, els := range add {
		for _, el := range els {
			a, _ := netip.AddrFromSlice(el.Key)
			if have, known := cur[a]; known {
				e.log.Info("address taken back for its device", "address", a, "mac", net.HardwareAddr(el.Val).String(), "claimed_by", net.HardwareAddr(have).String())
			}
			cur[a] = string(el.Val)
		}
	}
}

// eui64 is the interface identifier SLAAC forms from a MAC: ff:fe in the
// middle, the universal/local bit flipped.
func eui64(mac string) [8]byte {
	return [8]byte{mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]}
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
	return parseLeases(bytes.NewReader(e.leaseFile.data), time.Now())
}
