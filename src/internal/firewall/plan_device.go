package firewall

import (
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// Devices. Changes only add to the kernel's state: a device's maps jump
// to entry chains of its own, whose first rule is a goto to its current
// slot chains, so a new policy is a fresh slot and one rule at the head
// of each entry chain. What a change leaves behind (the old slot, the old
// goto, group memberships) is garbage, deleted in one batch once changes
// pause (planClean): deleting anything costs the kernel an RCU grace
// period.

// planApply plans installing or updating device d in one batch; answers
// are what the resolver said about the names of its policy that no
// device used before. commit records the result once the kernel has
// taken the batch.
func (s *state) planApply(d Device, answers map[string]answer, now time.Time) (*batch, func(), error) {
	if err := s.macsFree(d); err != nil {
		return nil, nil, err
	}
	old := s.devs[d.ID]
	st := &devState{dev: d, quar: s.quarantined(d), learn: s.learning[d.ID], n: s.nextN + 1}
	if old != nil {
		st.n = old.n
	}
	b := newBatch(s.table)
	// A device always gets a clean slot; a changed device's old slot is
	// emptied later, off the caller's path.
	newSlots := 0
	if len(s.free) == 0 {
		newSlots = s.chunk
		st.slot = s.nSlots
		s.planSlots(b, s.nSlots, s.nSlots+newSlots)
	} else {
		st.slot = s.free[len(s.free)-1]
	}
	newGroups := s.planNewGroups(b, d)
	newNames := s.planNames(b, d, answers, now)
	left := s.planDevice(b, st, old)
	// Its learned addresses follow it to its new chain and groups; those
	// of MACs it gave up (no other device has them) lead nowhere now.
	byMAC := map[string]*devState{}
	var macs []net.HardwareAddr
	if old != nil {
		macs = append(macs, old.dev.MACs...)
	}
	for _, m := range d.MACs {
		byMAC[string(m)] = st
	}
	macs = append(macs, d.MACs...)
	nextIPs := s.planAddrs(b, s.addrsOf(macs...), byMAC, &left)

	commit := func() {
		if newSlots > 0 {
			for n := s.nSlots + newSlots - 1; n > s.nSlots; n-- {
				s.free = append(s.free, n)
			}
			s.nSlots += newSlots
		} else {
			s.free = s.free[:len(s.free)-1]
		}
		if old != nil {
			left.slot = old.slot
			s.garbage = append(s.garbage, left)
		} else {
			s.nextN = st.n
		}
		s.commitPushed(nextIPs)
		for _, g := range newGroups {
			s.groups[g] = true
		}
		for n, dn := range newNames {
			s.names[n] = dn
		}
		for _, n := range policyNames(d.Policy) {
			s.names[n].refs++
		}
		if old != nil {
			for _, n := range policyNames(old.dev.Policy) {
				s.names[n].refs--
			}
			for _, m := range old.dev.MACs {
				delete(s.owner, string(m))
			}
		}
		for _, m := range d.MACs {
			s.owner[string(m)] = d.ID
		}
		s.devs[d.ID] = st
	}
	return b, commit, nil
}

// macsFree refuses a device with a MAC of another device.
func (s *state) macsFree(d Device) error {
	for _, m := range d.MACs {
		if id, ok := s.owner[string(m)]; ok && id != d.ID {
			return fmt.Errorf("device %s: MAC %v already belongs to device %s", d.ID, m, id)
		}
	}
	return nil
}

// planNewGroups adds the sets of the groups d belongs to or refers to
// that do not exist yet, and returns them.
func (s *state) planNewGroups(b *batch, d Device) []string {
	member, used := groupsOf(d)
	var added []string
	for _, g := range append(member, used...) {
		if !s.groups[g] && !slices.Contains(added, g) {
			added = append(added, g)
			planGroup(b, g)
		}
	}
	return added
}

// planNames adds the sets of the names d's policy uses that no device
// uses now, filled with the answers (names no device used before come
// with theirs), and returns the names new to the state.
func (s *state) planNames(b *batch, d Device, answers map[string]answer, now time.Time) map[string]*dnsName {
	added := map[string]*dnsName{}
	for _, n := range policyNames(d.Policy) {
		dn, ok := s.names[n]
		if !ok {
			dn = &dnsName{tried: now}
			if a, ok := answers[n]; ok {
				dn.ans, dn.fetched = a, now
			}
			added[n] = dn
		}
		if dn.refs == 0 {
			s.planNameSets(b, n, dn, false, now)
		}
	}
	return added
}

// planDevice adds (or, being there, rewrites) one device's chains,
// counters and map entries; old is its previous state when it changes.
// It adds only: what the old state leaves behind is returned as garbage.
func (s *state) planDevice(b *batch, st, old *devState) garbage {
	left := garbage{slot: -1, entry: st.n}
	for _, fam := range families {
		if old == nil {
			b.addCounter(fam, st.allName())
			b.addCounter(fam, st.dropName())
		}
		s.planDevChains(b, fam, st, old)
		planDevMACs(b, fam, st, old)
		if fam == famBridge {
			planQuarMACs(b, st, old)
		}
		planDevGroups(b, fam, st, old, &left)
	}
	return left
}

// planDevChains fills the device's slot chains and points its entry
// chains at them.
func (s *state) planDevChains(b *batch, fam family, st, old *devState) {
	chains := s.devChains(fam, st)
	for _, sd := range sides(fam) {
		// The slot's chains exist (planSlots); adding them again would
		// cost the kernel a chain update, milliseconds.
		slot := st.chain(sd)
		if old != nil && old.slot == st.slot {
			// Rewriting in place costs the kernel an RCU grace period
			// (milliseconds): Apply moves a device to a clean slot
			// instead, only segment changes come here.
			b.flushChain(fam, slot)
		}
		for _, r := range chains[sd] {
			b.addRule(fam, slot, r)
		}
		entry := entryChain(st.n, sd)
		toSlot := mkRule(gotoTo(slot))
		switch {
		case old == nil:
			b.addChain(fam, entry)
			b.addRule(fam, entry, toSlot)
		case old.slot != st.slot:
			// The new rule goes first, so it alone is reached from the
			// moment the batch is in.
			b.insertRule(fam, entry, toSlot)
		}
	}
}

// planDevMACs points the MAC maps at the device's entry chains.
func planDevMACs(b *batch, fam family, st, old *devState) {
	var del, add []net.HardwareAddr
	if old != nil {
		for _, m := range old.dev.MACs {
			if !hasMAC(st.dev.MACs, m) {
				del = append(del, m)
			}
		}
	}
	for _, m := range st.dev.MACs {
		if old == nil || !hasMAC(old.dev.MACs, m) {
			add = append(add, m)
		}
	}
	for _, sd := range sides(fam) {
		name, ok := macMap(fam, sd)
		if !ok {
			continue
		}
		set := devMap(fam, name)
		// A MAC the device gave up goes at once: another device may claim
		// it next.
		b.delElems(set, keys(del...))
		el := keys(add...)
		for i := range el {
			el[i].jump = entryChain(st.n, sd)
		}
		b.addElems(set, el)
	}
}

// planQuarMACs keeps the bridge table's quarantine set in line with the
// device's confinement.
func planQuarMACs(b *batch, st, old *devState) {
	var in, out []net.HardwareAddr
	if st.quar {
		in = st.dev.MACs
	}
	if old != nil && old.quar {
		for _, m := range old.dev.MACs {
			if !st.quar || !hasMAC(st.dev.MACs, m) {
				out = append(out, m)
			}
		}
	}
	// Released at once: deleting costs this change an RCU grace period,
	// but a released device must not wait for the cleaning.
	b.delElems(quarMACSet(), keys(out...))
	b.addElems(quarMACSet(), keys(in...))
}

// planDevGroups: the device joins its groups (again: adding is
// harmless) and leaves the old ones later, through left.
func planDevGroups(b *batch, fam family, st, old *devState, left *garbage) {
	member, _ := groupsOf(st.dev)
	if old != nil {
		oldMember, _ := groupsOf(old.dev)
		for _, g := range oldMember {
			for _, m := range old.dev.MACs {
				kept := hasMAC(st.dev.MACs, m)
				switch {
				case kept && slices.Contains(member, g):
				case kept:
					left.leave = append(left.leave, leave{fam: fam, group: g, key: m})
				default:
					// A MAC no longer governed leaves at once.
					b.delElems(etherSet(fam, g), keys(m))
				}
			}
		}
	}
	for _, g := range member {
		b.addElems(etherSet(fam, g), keys(st.dev.MACs...))
	}
}

// devChains builds the rules of a device's chains in one table, by side.
func (s *state) devChains(fam family, st *devState) map[side][]rule {
	bridge := fam == famBridge
	// What the chains drop of the device's own packets is logged first
	// (rate-limited): package behaviour watches it. Not what others send
	// it: anyone could have a device quarantined by knocking at it.
	dropAll := []rule{mkRule(drop, count(st.dropName()))}
	dropOwn := append(s.logDrop(st.dev.ID), dropAll...)
	ch := map[side][]rule{}
	for _, sd := range sides(fam) {
		ch[sd] = []rule{mkRule(verdict{}, count(st.allName()))}
		// A device being learned: the first packet of each connection
		// (only new ones get here: the base chains accept the rest), in
		// the inet table, which has conntrack.
		if st.learn && !st.quar && !bridge && s.logGroup != 0 {
			ch[sd] = append(ch[sd], s.logOpen(st.dev.ID, sd == sideIn))
		}
	}
	all := func(rs ...rule) map[side][]rule {
		for _, sd := range sides(fam) {
			ch[sd] = append(ch[sd], rs...)
		}
		return ch
	}
	dropEnd := func() map[side][]rule {
		for _, sd := range sides(fam) {
			if sd == sideIn {
				ch[sd] = append(ch[sd], dropAll...)
			} else {
				ch[sd] = append(ch[sd], dropOwn...)
			}
		}
		return ch
	}
	if !bridge {
		// Learn the device's addresses so traffic to it finds its chain
		// (the input chain learns from what it sends the router).
		ch[sideOut] = append(ch[sideOut], mkRule(verdict{}, learn(fam, 4)), mkRule(verdict{}, learn(fam, 6)))
	}
	if st.quar {
		return dropEnd()
	}
	// On a bridge, ARP, neighbour discovery and DHCP between neighbours
	// never get here: the base chain allows them for everyone.
	if !bridge {
		// Established and related packets never get here (the base
		// chains accept them first; conntrack is flushed whenever a
		// device's confinement changes), nor do DHCP, DNS and neighbour
		// discovery to the router (the input chain accepts them for
		// everyone, quarantined or not). NTP, the router's too, is
		// allowed unless quarantined.
		ch[sideRouter] = append(ch[sideRouter], mkRule(ret, udpPort(123, 123)))
	}
	p := st.dev.Policy
	if p == nil || p.NamesNoACL {
		// A file naming no access list says nothing about the device's
		// traffic: the segment's default holds.
		return all(mkRule(ret))
	}
	for _, r := range p.FromDevice {
		for _, sd := range sides(fam) {
			if sd != sideIn {
				ch[sd] = append(ch[sd], s.compile(fam, st, r, sd)...)
			}
		}
	}
	for _, r := range p.ToDevice {
		ch[sideIn] = append(ch[sideIn], s.compile(fam, st, r, sideIn)...)
	}
	return dropEnd()
}

// planRemove plans taking device id out (its traffic falls back to its
// segment); ok is false when there is no such device.
func (s *state) planRemove(id string) (b *batch, commit func(), ok bool) {
	st, ok := s.devs[id]
	if !ok {
		return nil, nil, false
	}
	b = newBatch(s.table)
	el := keys(st.dev.MACs...)
	member, _ := groupsOf(st.dev)
	for _, fam := range families {
		for _, sd := range sides(fam) {
			if name, ok := macMap(fam, sd); ok {
				b.delElems(devMap(fam, name), el)
			}
		}
		for _, g := range member {
			b.delElems(etherSet(fam, g), el)
		}
		if st.quar && fam == famBridge {
			b.delElems(quarMACSet(), el)
		}
	}
	// Its addresses lead nowhere now (no other device has its MACs).
	next := s.planAddrs(b, s.addrsOf(st.dev.MACs...), nil, nil)
	return b, func() {
		s.commitPushed(next)
		for _, n := range policyNames(st.dev.Policy) {
			s.names[n].refs--
		}
		delete(s.devs, id)
		for _, m := range st.dev.MACs {
			delete(s.owner, string(m))
		}
		// Its chains and counters go later, off the caller's path.
		s.garbage = append(s.garbage, garbage{slot: st.slot, entry: st.n, removed: true,
			counters: []string{st.allName(), st.dropName()}})
	}, true
}

// planClean plans deleting what the changes gs left behind, in one
// batch; freeSlots makes their slots free again once it is in.
func (s *state) planClean(gs []garbage) *batch {
	b := newBatch(s.table)
	byMAC := s.byMAC()
	removed, pruned := map[int]bool{}, map[int]bool{}
	for _, g := range gs {
		if g.removed {
			removed[g.entry] = true
		}
	}
	for _, g := range gs {
		for _, fam := range families {
			if g.slot >= 0 {
				for _, sd := range sides(fam) {
					b.flushChain(fam, slotChain(g.slot, sd))
				}
			}
			for _, n := range g.counters {
				b.delCounter(fam, n)
			}
		}
		for _, l := range g.leave {
			if !s.stillIn(l, byMAC) {
				b.delElems(l.set(), keys(l.key))
			}
		}
		if pruned[g.entry] {
			continue
		}
		pruned[g.entry] = true
		for _, fam := range families {
			for _, sd := range sides(fam) {
				if removed[g.entry] {
					b.delChain(fam, entryChain(g.entry, sd)) // its rules with it
				} else {
					// All but the first rule, the goto to the current slot.
					b.trimChain(fam, entryChain(g.entry, sd))
				}
			}
		}
	}
	return b
}

// freeSlots makes the slots of cleaned garbage free again.
func (s *state) freeSlots(gs []garbage) {
	for _, g := range gs {
		if g.slot >= 0 {
			s.free = append(s.free, g.slot)
		}
	}
}

// stillIn says a device has joined the group again since it left.
func (s *state) stillIn(l leave, byMAC map[string]*devState) bool {
	if l.v != 0 {
		a := addrOf(l.key)
		return slices.Contains(s.pushed[a].groups, l.group)
	}
	st, ok := byMAC[string(l.key)]
	if !ok {
		return false
	}
	member, _ := groupsOf(st.dev)
	return slices.Contains(member, l.group)
}

// peerGroup names the MAC set a manufacturer or model match of device d
// refers to.
func peerGroup(d Device, r mud.Rule) string {
	switch r.Peer {
	case mud.PeerSameManufacturer:
		if d.Manufacturer == "" {
			return ""
		}
		return groupSet(mud.PeerManufacturer, d.Manufacturer)
	case mud.PeerManufacturer:
		return groupSet(mud.PeerManufacturer, r.PeerValue)
	case mud.PeerModel:
		return groupSet(mud.PeerModel, r.PeerValue)
	}
	return ""
}

// groupsOf lists the group sets a device belongs to and the ones its
// rules refer to.
func groupsOf(d Device) (member, used []string) {
	if d.Manufacturer != "" {
		member = append(member, groupSet(mud.PeerManufacturer, d.Manufacturer))
	}
	if d.Policy != nil && d.Policy.URL != "" {
		member = append(member, groupSet(mud.PeerModel, d.Policy.URL))
	}
	if d.Policy != nil {
		for _, r := range append(slices.Clone(d.Policy.FromDevice), d.Policy.ToDevice...) {
			if g := peerGroup(d, r); g != "" {
				used = append(used, g)
			}
		}
	}
	return member, used
}
