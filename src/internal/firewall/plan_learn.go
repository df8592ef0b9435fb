package firewall

import (
	"net"
	"net/netip"
	"slices"
)

// The kernel learns "address -> MAC" from devices' packets (ip4mac,
// ip6mac, with a timeout); the planner mirrors that into ip4dev/ip6dev
// (address -> the device's "to" chain) and into the address sets of the
// groups the device belongs to. Chaining map lookups in the kernel would
// do the same without userspace, but nft cannot print such rules, and
// `nft list` must keep working for fw4 and LuCI.

// desired says what an address used by MAC mac should have in the
// kernel, given the devices byMAC.
func desired(byMAC map[string]*devState, mac string) (pushed, bool) {
	st, ok := byMAC[mac]
	if !ok {
		return pushed{}, false
	}
	member, _ := groupsOf(st.dev)
	return pushed{entry: st.n, groups: member}, true
}

func addrOf(key []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(key)
	return a
}

// planAddrs adds to b what brings the addresses addrs in line with the
// learned map and the devices byMAC, and returns the new pushed state of
// those addresses (nil: nothing), for commitPushed once the batch is in.
// Group memberships an address loses go to later when it is given (see
// garbage), else into the batch.
func (s *state) planAddrs(b *batch, addrs []netip.Addr, byMAC map[string]*devState, later *garbage) map[netip.Addr]*pushed {
	adds := map[string][]elem{}
	dels := map[string][]elem{}
	sets := map[string]*setSpec{}
	add := func(to map[string][]elem, set *setSpec, el elem) {
		sets[set.name] = set
		to[set.name] = append(to[set.name], el)
	}
	next := map[netip.Addr]*pushed{}
	for _, a := range addrs {
		v := ipVersion(a)
		devs := ipDevMap(v)
		have, had := s.pushed[a]
		want, wanted := pushed{}, false
		if mac, ok := s.synced[a]; ok {
			want, wanted = desired(byMAC, mac)
		}
		if had && wanted && have.equal(want) {
			continue
		}
		key := a.AsSlice()
		sameEntry := had && wanted && have.entry == want.entry
		if had && !sameEntry {
			add(dels, devs, elem{key: key})
		}
		if wanted && !sameEntry {
			add(adds, devs, elem{key: key, jump: entryChain(want.entry, sideIn)})
		}
		for _, g := range have.groups {
			switch {
			case wanted && slices.Contains(want.groups, g):
			case later != nil && wanted:
				// Still governed: its own chains decide; an address no
				// longer governed leaves at once.
				later.leave = append(later.leave, leave{fam: famINet, group: g, v: v, key: key})
			default:
				add(dels, groupIPSet(g, v), elem{key: key})
			}
		}
		for _, g := range want.groups {
			add(adds, groupIPSet(g, v), elem{key: key})
		}
		if wanted {
			next[a] = &want
		} else {
			next[a] = nil
		}
	}
	for _, n := range sortedKeys(dels) {
		b.delElems(sets[n], dels[n])
	}
	for _, n := range sortedKeys(adds) {
		b.addElems(sets[n], adds[n])
	}
	return next
}

// commitPushed records what a batch put in.
func (s *state) commitPushed(next map[netip.Addr]*pushed) {
	for a, p := range next {
		if p == nil {
			delete(s.pushed, a)
		} else {
			s.pushed[a] = *p
		}
	}
}

// addrsOf lists the learned addresses of the given MACs.
func (s *state) addrsOf(macs ...net.HardwareAddr) []netip.Addr {
	var out []netip.Addr
	for _, m := range macs {
		out = append(out, s.bySrc[string(m)]...)
	}
	return out
}

// planSync plans mirroring the learned addresses cur (as just read from
// the kernel, owners bound) into the device maps and group sets.
func (s *state) planSync(cur map[netip.Addr]string) (*batch, func()) {
	s.synced = cur
	s.bySrc = map[string][]netip.Addr{}
	addrs := make([]netip.Addr, 0, len(cur))
	for a, mac := range cur {
		addrs = append(addrs, a)
		s.bySrc[mac] = append(s.bySrc[mac], a)
	}
	for a := range s.pushed {
		if _, ok := cur[a]; !ok {
			addrs = append(addrs, a)
		}
	}
	b := newBatch(s.table)
	next := s.planAddrs(b, addrs, s.byMAC(), nil)
	return b, func() { s.commitPushed(next) }
}

// planOwners plans making each governed device's own addresses its own
// in the learned map, over whoever sent from them first: the kernel's
// learning never overwrites an address it knows, so a host that claimed
// an address before its owner, or kept one dnsmasq has since leased to
// another device, would otherwise keep it until it went quiet for the
// learn timeout. A device owns its leased IPv4 addresses (leases:
// address -> MAC) and the IPv6 addresses formed from its MAC (modified
// EUI-64, RFC 4291 2.5.1). It returns the batch (nil: nothing to do) and
// the addresses it takes, address -> MAC.
func (s *state) planOwners(cur, leases map[netip.Addr]string) (*batch, map[netip.Addr]string) {
	byMAC := s.byMAC()
	owners := leases
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
	taken := map[netip.Addr]string{}
	add := map[int][]elem{}
	del := map[int][]elem{}
	for a, mac := range owners {
		if _, governed := byMAC[mac]; !governed {
			continue
		}
		have, known := cur[a]
		if known && have == mac {
			continue
		}
		v := ipVersion(a)
		if known {
			del[v] = append(del[v], elem{key: a.AsSlice()})
		}
		add[v] = append(add[v], elem{key: a.AsSlice(), val: []byte(mac)})
		taken[a] = mac
	}
	if len(taken) == 0 {
		return nil, nil
	}
	b := newBatch(s.table)
	for _, v := range []int{4, 6} {
		set := learnedMap(v, s.learnTimeout)
		b.delElems(set, del[v])
		b.addElems(set, add[v])
	}
	return b, taken
}

// eui64 is the interface identifier SLAAC forms from a MAC: ff:fe in the
// middle, the universal/local bit flipped.
func eui64(mac string) [8]byte {
	return [8]byte{mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]}
}
