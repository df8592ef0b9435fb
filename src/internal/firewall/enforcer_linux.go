package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Enforcer keeps trustjoin's nftables tables in line with the segments and
// devices it was given. Each change is planned from its state without
// touching the kernel (plan_*.go), applied by the kernel as one batch
// (apply_linux.go), and recorded in the state only once the kernel has
// taken it.
type Enforcer struct {
	log  *slog.Logger
	opts Options
	k    kernel

	mu sync.Mutex
	st *state
	// installed says the tables are in the kernel as st describes.
	installed bool
	restores  int // times Run put the tables back
	// stale names a previous run's tables, deleted by Run.
	stale string
	ready atomic.Bool
	// leaseFile is dnsmasq's lease file as last read (learn_linux.go).
	leaseFile struct {
		mod  time.Time
		size int64
		data []byte
	}
	// kick wakes Run to delete what changes left behind once they pause
	// (cleanDelay); changed is when the last change was made.
	kick    chan struct{}
	changed time.Time
	// bg counts conntrack flushes running behind.
	bg sync.WaitGroup
}

// cleanDelay is how long Run waits after the last change before deleting
// what changes left behind, so a burst of changes never waits for it.
const cleanDelay = time.Second

// New returns an Enforcer; nothing reaches the kernel before SetSegments,
// Apply or Run.
func New(log *slog.Logger, opts Options) *Enforcer {
	opts.defaults()
	st := newState(opts)
	st.table = "" // chosen at the first install (pickName)
	return &Enforcer{log: log, opts: opts, k: newKernel(opts.NetNS), st: st, kick: make(chan struct{}, 1)}
}

// Ready says the tables are installed.
func (e *Enforcer) Ready() bool { return e.ready.Load() }

func (e *Enforcer) table(f family) *nftables.Table { return nfTable(e.st.table, f) }

func (e *Enforcer) kickClean() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// pickName chooses the tables' name at the first install. Tables a
// previous run left keep confining devices until this run has restored
// them (Run deletes them), so a restart opens no window: the new tables
// take the other of two names.
func (e *Enforcer) pickName() {
	a, b := e.opts.Table, e.opts.Table+"_b"
	inA, _ := e.k.existing(a)
	inB, _ := e.k.existing(b)
	switch {
	case len(inA) > 0:
		e.st.table, e.stale = b, a
	case len(inB) > 0:
		e.st.table, e.stale = a, b
	default:
		e.st.table = a
	}
}

// dropStale deletes the tables of a previous run.
func (e *Enforcer) dropStale() {
	if e.stale == "" {
		return
	}
	if err := e.k.delTables(e.stale); err != nil {
		e.log.Warn("failed to delete the previous run's tables", "table", e.stale, "err", err)
		return
	}
	e.log.Info("deleted the previous run's tables", "table", e.stale)
	e.stale = ""
}

// readPorts reads the ports of the segment and join bridges, and of
// extra ones, when the bridge table finds segments by port.
func (e *Enforcer) readPorts(extra ...string) error {
	if !e.st.portMode {
		return nil
	}
	p, err := bridgePorts(e.opts.NetNS, append(e.st.portBridges(), extra...))
	if err != nil {
		return err
	}
	e.st.ports = p
	return nil
}

// SetSegments replaces the segments, in one batch.
func (e *Enforcer) SetSegments(ctx context.Context, segs []Segment) error {
	if err := validateSegments(segs); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.installed {
		// Kept even if the kernel refuses the tables now: Run installs
		// them with these segments when it tries again.
		e.st.segs = segs
		return e.installLocked()
	}
	var ifaces []string
	for _, s := range segs {
		ifaces = append(ifaces, s.Ifaces...)
	}
	if err := e.readPorts(ifaces...); err != nil {
		return err
	}
	b, commit := e.st.planSegments(segs)
	if err := e.k.run(b); err != nil {
		return fmt.Errorf("failed to apply segments: %v", err)
	}
	commit()
	return nil
}

// installLocked (re)creates both tables from the state: one batch for the
// tables, segments, groups and names, then one per chunk of slots and
// one per device, so no batch grows with the number of devices.
func (e *Enforcer) installLocked() error {
	err := e.installTables()
	if err != nil && !e.st.portMode && errors.Is(err, unix.EOPNOTSUPP) {
		e.log.Info("kernel without nft_meta_bridge (kmod-nft-bridge): bridge segments by port")
		e.st.portMode = true
		err = e.installTables()
	}
	if err != nil && e.st.logGroup != 0 && errors.Is(err, unix.ENOENT) {
		// Log rules need nfnetlink_log (kmod-nfnetlink-log): confining
		// devices matters more than watching them.
		e.log.Error("kernel without NFLOG (nfnetlink_log, kmod-nfnetlink-log): devices are confined but not watched", "err", err)
		e.st.logGroup = 0
		err = e.installTables()
	}
	if err != nil {
		return err
	}
	s := e.st
	// The new tables have every slot empty and have learned nothing.
	s.forgetLearned()
	s.freeSlots(s.garbage)
	s.garbage = nil
	for from := 0; from < s.nSlots; from += slotChunk {
		b := newBatch(s.table)
		s.planSlots(b, from, min(from+slotChunk, s.nSlots))
		if err := e.k.run(b); err != nil {
			return fmt.Errorf("failed to restore device slots: %v", err)
		}
	}
	e.installed = true
	e.ready.Store(true)
	var errs []error
	for _, st := range s.sortedDevs() {
		st.quar = s.quarantined(st.dev)
		b := newBatch(s.table)
		s.planDevice(b, st, nil)
		if err := e.k.run(b); err != nil {
			errs = append(errs, fmt.Errorf("failed to restore device %s: %v", st.dev.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (e *Enforcer) installTables() error {
	if e.st.table == "" {
		e.pickName()
	}
	existing, err := e.k.existing(e.st.table)
	if err != nil {
		return err
	}
	if err := e.readPorts(); err != nil {
		return err
	}
	if err := e.k.run(e.st.planTables(existing, e.st.ports, time.Now())); err != nil {
		return fmt.Errorf("failed to install the %s tables: %w", e.st.table, err)
	}
	return nil
}

// Apply installs or updates one device in one batch; on failure the
// previous state stays in force.
func (e *Enforcer) Apply(ctx context.Context, d Device) error {
	if err := validateDevice(d); err != nil {
		return err
	}
	d.MACs = slices.Clone(d.MACs)
	// Names are resolved before the batch, so the policy works from its
	// first packet; outside the lock, so a slow resolver holds up only
	// this call; a name already known costs nothing.
	e.mu.Lock()
	var unknown []string
	for _, n := range policyNames(d.Policy) {
		if _, ok := e.st.names[n]; !ok {
			unknown = append(unknown, n)
		}
	}
	e.mu.Unlock()
	answers := e.resolveAll(ctx, unknown)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.installed {
		if err := e.installLocked(); err != nil {
			return err
		}
	}
	b, commit, err := e.st.planApply(d, answers, time.Now())
	if err != nil {
		return err
	}
	if err := e.k.run(b); err != nil {
		return fmt.Errorf("failed to apply the policy of device %s: %v", d.ID, err)
	}
	old := e.st.devs[d.ID]
	commit()
	e.changed = time.Now()
	e.kickClean()
	// Flows opened under the old rules must be judged again (quarantine
	// takes effect on the next packet, even for offloaded flows).
	if old != nil && !sameConfinement(old.dev, d) {
		e.flushFlowsLocked(d, e.st.quarantined(d))
	}
	return nil
}

func sameConfinement(a, b Device) bool {
	return a.Quarantined == b.Quarantined && a.Segment == b.Segment && a.Policy == b.Policy
}

// LogConnections has the firewall log the connections of the devices ids
// (those being learned) and stop logging those of all others, each
// device that changes in one batch. Without a log group it only
// remembers them.
func (e *Enforcer) LogConnections(ctx context.Context, ids []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	e.st.learning = want
	if !e.installed || e.st.logGroup == 0 {
		// Installing the tables plans each device from its state.
		for _, st := range e.st.devs {
			st.learn = want[st.dev.ID]
		}
		return nil
	}
	var errs []error
	for _, st := range e.st.sortedDevs() {
		if st.learn == want[st.dev.ID] {
			continue
		}
		b, commit, err := e.st.planApply(st.dev, nil, time.Now())
		if err == nil {
			err = e.k.run(b)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to change the logging of device %s: %v", st.dev.ID, err))
			continue
		}
		commit()
		e.changed = time.Now()
		e.kickClean()
	}
	return errors.Join(errs...)
}

// Remove takes a device out; its traffic falls back to its segment.
func (e *Enforcer) Remove(ctx context.Context, id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, commit, ok := e.st.planRemove(id)
	if !ok {
		return nil
	}
	d := e.st.devs[id].dev
	if e.installed {
		if err := e.k.run(b); err != nil {
			return fmt.Errorf("failed to remove device %s: %v", id, err)
		}
	}
	commit()
	e.changed = time.Now()
	e.kickClean()
	e.flushFlowsLocked(d, false)
	return nil
}

// Counters returns what the firewall accepted and dropped for a device,
// in both tables together.
func (e *Enforcer) Counters(id string) (Counters, error) {
	all, err := e.counters(id)
	if err != nil {
		return Counters{}, err
	}
	c, ok := all[id]
	if !ok {
		return Counters{}, fmt.Errorf("no device %s", id)
	}
	return c, nil
}

// AllCounters is Counters for every device the firewall holds, by id,
// with one read of each table.
func (e *Enforcer) AllCounters() (map[string]Counters, error) { return e.counters("") }

// counters reads the counters of device id, or of every device for "".
func (e *Enforcer) counters(id string) (map[string]Counters, error) {
	type names struct{ all, drop string }
	want := map[string]names{}
	e.mu.Lock()
	for d, st := range e.st.devs {
		if id == "" || d == id {
			want[d] = names{st.allName(), st.dropName()}
		}
	}
	table := e.st.table
	e.mu.Unlock()
	out := make(map[string]Counters, len(want))
	if len(want) == 0 {
		return out, nil
	}
	all := make(map[string]Counters, len(want))
	for _, f := range families {
		// One dump per table. Accepted is the total less the drops,
		// never below zero should a packet land between their reads.
		got, err := e.k.counters(table, f)
		if err != nil {
			return nil, fmt.Errorf("failed to read the firewall's counters: %v", err)
		}
		for d, n := range want {
			o, a := out[d], all[d]
			o.DroppedPackets += got[n.drop][0]
			o.DroppedBytes += got[n.drop][1]
			a.AcceptedPackets += got[n.all][0]
			a.AcceptedBytes += got[n.all][1]
			out[d], all[d] = o, a
		}
	}
	for d, o := range out {
		a := all[d]
		o.AcceptedPackets = a.AcceptedPackets - min(a.AcceptedPackets, o.DroppedPackets)
		o.AcceptedBytes = a.AcceptedBytes - min(a.AcceptedBytes, o.DroppedBytes)
		out[d] = o
	}
	return out, nil
}

// Rules renders, in nft syntax, the chains trustjoin made for a device as
// they are in force (its entry and slot chains in both tables) and its
// counters with the kernel's values, as nft would list them, for
// `trustjoin mud show`; Counters sums up what they judged.
func (e *Enforcer) Rules(id string) (string, error) {
	e.mu.Lock()
	st, ok := e.st.devs[id]
	table := e.st.table
	e.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("no device %s", id)
	}
	// Read without the lock, as Counters does: a change meanwhile keeps
	// the device's counters (they are its own, not its slot's).
	values := map[string][2]uint64{}
	for _, f := range families {
		got, err := e.k.counters(table, f)
		if err != nil {
			return "", fmt.Errorf("failed to read the counters of device %s: %v", id, err)
		}
		for _, n := range []string{st.allName(), st.dropName()} {
			values[f.String()+" "+n] = got[n]
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st.renderDevice(id, values)
}

// cleanLocked deletes the garbage in one batch and frees its slots. If
// the kernel refuses the batch, each change's garbage is tried alone, and
// what is still refused is given up (it is harmless; the next restore
// starts clean).
func (e *Enforcer) cleanLocked() {
	s := e.st
	if len(s.garbage) == 0 || !e.installed {
		return
	}
	if err := e.k.run(s.planClean(s.garbage)); err != nil {
		for _, g := range s.garbage {
			one := []garbage{g}
			if err := e.k.run(s.planClean(one)); err != nil {
				e.log.Warn("failed to delete what a change left behind", "slot", g.slot, "err", err)
				continue
			}
			s.freeSlots(one)
		}
	} else {
		s.freeSlots(s.garbage)
	}
	s.garbage = nil
}

// resolveAll asks the resolver about names, several at a time, within a
// bounded time; names it could not resolve are missing from the answer.
func (e *Enforcer) resolveAll(ctx context.Context, names []string) map[string]answer {
	out := map[string]answer{}
	if len(names) == 0 {
		return out
	}
	if e.opts.Resolver == "" {
		e.log.Warn("no resolver configured: MUD rules naming hosts grant nothing", "names", names)
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			a, err := resolve(ctx, e.opts.Resolver, n)
			if err != nil {
				e.log.Warn("failed to resolve a MUD name", "name", n, "err", err)
				return
			}
			mu.Lock()
			out[n] = a
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// Run keeps the tables in place and the DNS sets fresh until ctx ends.
func (e *Enforcer) Run(ctx context.Context) error {
	e.mu.Lock()
	if !e.installed {
		if err := e.installLocked(); err != nil {
			e.mu.Unlock()
			return err
		}
	}
	// The daemon restored its devices before starting Run: the previous
	// run's tables have done their part.
	e.dropStale()
	e.mu.Unlock()
	tick := time.NewTicker(e.opts.CheckInterval)
	defer tick.Stop()
	clean := time.NewTimer(cleanDelay)
	defer clean.Stop()
	for {
		select {
		case <-ctx.Done():
			e.bg.Wait()
			return nil
		case <-e.kick:
			clean.Reset(cleanDelay)
			continue
		case <-clean.C:
			e.mu.Lock()
			if time.Since(e.changed) >= cleanDelay {
				e.cleanLocked()
			} else {
				clean.Reset(cleanDelay - time.Since(e.changed))
			}
			e.mu.Unlock()
			continue
		case <-tick.C:
		}
		e.mu.Lock()
		if time.Since(e.changed) >= cleanDelay {
			e.cleanLocked()
		}
		if !e.present() {
			e.log.Warn("trustjoin's nftables tables vanished (fw4 flush?): restoring", "table", e.st.table)
			e.restores++
			e.installed = false
			if err := e.installLocked(); err != nil {
				e.log.Error("failed to restore the tables", "err", err)
			}
		}
		if e.installed && e.st.portMode {
			e.refreshPortsLocked()
		}
		if e.installed {
			e.syncLocked()
		}
		e.mu.Unlock()
		e.refresh(ctx)
	}
}

// present says both tables are there with their base rules (and the
// join confinement's, when there is one): deleting either table, or
// flushing it, counts as gone.
func (e *Enforcer) present() bool {
	chains := map[family][]string{famINet: {chainForward}, famBridge: {chainForward}}
	if len(e.st.join.Ifaces) > 0 {
		chains[famINet] = append(chains[famINet], chainJoinIn, chainJoinFwd, chainJoinLocal)
	}
	return e.k.filled(e.st.table, chains)
}

// retryAfter spaces out questions about a name the resolver did not
// answer.
const retryAfter = 10 * time.Second

// refresh asks again about names whose TTL ran out (outside the lock) and
// swaps the answers in; a failed question keeps the old answer until it
// expires.
func (e *Enforcer) refresh(ctx context.Context) {
	e.mu.Lock()
	var due []string
	now := time.Now()
	for n, dn := range e.st.names {
		switch {
		case dn.refs == 0:
			delete(e.st.names, n)
		case now.Sub(dn.tried) < retryAfter:
		case dn.fetched.IsZero() || now.Sub(dn.fetched) >= dn.ans.ttl:
			due = append(due, n)
			dn.tried = now
		}
	}
	e.mu.Unlock()
	if len(due) == 0 {
		return
	}
	answers := e.resolveAll(ctx, due)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.installed {
		return
	}
	for n, a := range answers {
		dn, ok := e.st.names[n]
		if !ok {
			continue
		}
		dn.ans, dn.fetched = a, time.Now()
		b := newBatch(e.st.table)
		e.st.planNameSets(b, n, dn, true, time.Now())
		if err := e.k.run(b); err != nil {
			e.log.Warn("failed to refresh a MUD name's addresses", "name", n, "err", err)
		}
	}
}

// refreshPortsLocked follows ports joining and leaving the segment
// bridges when the bridge table finds segments by port.
func (e *Enforcer) refreshPortsLocked() {
	p, err := bridgePorts(e.opts.NetNS, e.st.portBridges())
	if err != nil {
		e.log.Warn("failed to list bridge ports", "err", err)
		return
	}
	if maps.EqualFunc(p, e.st.ports, slices.Equal) {
		return
	}
	b, commit := e.st.planPorts(p)
	if err := e.k.run(b); err != nil {
		e.log.Warn("failed to update bridge ports", "err", err)
		return
	}
	commit()
}
