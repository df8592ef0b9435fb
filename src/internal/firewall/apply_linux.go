package firewall

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// kernel is the applier: it sends the planner's batches to the kernel,
// each as one netlink transaction, and reads back what the planner needs
// to know (tables present, learned addresses, counters). It decides
// nothing.
type kernel struct {
	// opts open a netlink connection: the namespace, and in tests a
	// recorder instead of the kernel.
	opts []nftables.ConnOption
}

func newKernel(netns int) kernel { return kernel{opts: connOptions(netns)} }

func (k kernel) conn() (*nftables.Conn, error) {
	c, err := nftables.New(k.opts...)
	if err != nil {
		return nil, fmt.Errorf("failed to open nftables netlink: %v", err)
	}
	return c, nil
}

// connOptions: a batch is acknowledged message by message, and the
// acknowledgements of a large one overflow the default receive buffer
// (ENOBUFS; google/nftables v0.3.0 does not size it), so it is forced
// larger, as nft does; the daemon has CAP_NET_ADMIN.
func connOptions(netns int) []nftables.ConnOption {
	opts := []nftables.ConnOption{nftables.WithSockOptions(func(c *netlink.Conn) error {
		rc, err := c.SyscallConn()
		if err != nil {
			return nil
		}
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20)
		})
		return nil
	})}
	if netns != 0 {
		opts = append(opts, nftables.WithNetNSFd(netns))
	}
	return opts
}

// run applies b whole or not at all; an empty batch costs nothing.
func (k kernel) run(b *batch) error {
	if b.empty() {
		return nil
	}
	c, err := k.conn()
	if err != nil {
		return err
	}
	if err := k.add(c, b); err != nil {
		return err
	}
	return c.Flush()
}

func (f family) nf() nftables.TableFamily {
	if f == famBridge {
		return nftables.TableFamilyBridge
	}
	return nftables.TableFamilyINet
}

func nfTable(name string, f family) *nftables.Table {
	return &nftables.Table{Name: name, Family: f.nf()}
}

// add puts b's operations into c's batch.
func (k kernel) add(c *nftables.Conn, b *batch) error {
	tables := map[family]*nftables.Table{}
	table := func(f family) *nftables.Table {
		if tables[f] == nil {
			tables[f] = nfTable(b.table, f)
		}
		return tables[f]
	}
	var q *nftables.Conn // reads the rules of chains to trim
	for _, o := range b.ops {
		t := table(o.fam)
		ch := &nftables.Chain{Name: o.name, Table: t}
		var err error
		switch o.kind {
		case opAddTable:
			c.AddTable(t)
		case opDelTable:
			c.DelTable(t)
		case opAddChain:
			if o.hook != nil {
				prio := nftables.ChainPriority(o.hook.prio)
				policy := nftables.ChainPolicyAccept
				ch.Type, ch.Priority, ch.Policy = nftables.ChainTypeFilter, &prio, &policy
				switch o.hook.hook {
				case hookInput:
					ch.Hooknum = nftables.ChainHookInput
				case hookOutput:
					ch.Hooknum = nftables.ChainHookOutput
				default:
					ch.Hooknum = nftables.ChainHookForward
				}
			}
			c.AddChain(ch)
		case opFlushChain:
			c.FlushChain(ch)
		case opDelChain:
			c.DelChain(ch)
		case opTrimChain:
			if q == nil {
				if q, err = k.conn(); err != nil {
					return err
				}
			}
			rules, err := q.GetRules(t, ch)
			if err != nil {
				return fmt.Errorf("failed to list chain %s: %v", o.name, err)
			}
			for _, r := range rules[min(1, len(rules)):] {
				if err := c.DelRule(r); err != nil {
					return err
				}
			}
		case opAddRule:
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: o.rule.exprs(o.fam)})
		case opInsertRule:
			c.InsertRule(&nftables.Rule{Table: t, Chain: ch, Exprs: o.rule.exprs(o.fam)})
		case opAddSet:
			err = c.AddSet(nfSet(t, o.set), nfElems(o.elems))
		case opFlushSet:
			c.FlushSet(nfSet(t, o.set))
		case opDelSet:
			c.DelSet(nfSet(t, o.set))
		case opAddElems:
			err = c.SetAddElements(nfSet(t, o.set), nfElems(o.elems))
		case opDelElems:
			err = c.SetDeleteElements(nfSet(t, o.set), nfElems(o.elems))
		case opAddCounter:
			c.AddObj(&nftables.CounterObj{Table: t, Name: o.name})
		case opDelCounter:
			c.DeleteObject(&nftables.CounterObj{Table: t, Name: o.name})
		default:
			return fmt.Errorf("unknown operation %d", o.kind)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func nfKey(k keyType) nftables.SetDatatype {
	switch k {
	case kIfname:
		return nftables.TypeIFName
	case kEther:
		return nftables.TypeEtherAddr
	case kIPv4:
		return nftables.TypeIPAddr
	case kIPv6:
		return nftables.TypeIP6Addr
	}
	return nftables.TypeVerdict
}

func nfSet(t *nftables.Table, s *setSpec) *nftables.Set {
	n := &nftables.Set{Table: t, Name: s.name, KeyType: nfKey(s.key), HasTimeout: s.timeout,
		Dynamic: s.dynamic, Timeout: s.defTimeout, Size: s.size}
	if s.key == kIfname {
		// So nft prints the names as names.
		n.KeyByteOrder = binaryutil.NativeEndian
	}
	if s.data != 0 {
		n.IsMap, n.DataType = true, nfKey(s.data)
	}
	return n
}

func nfElems(el []elem) []nftables.SetElement {
	if len(el) == 0 {
		return nil
	}
	out := make([]nftables.SetElement, len(el))
	for i, e := range el {
		out[i] = nftables.SetElement{Key: e.key, Val: e.val, Timeout: e.timeout}
		if e.jump != "" {
			out[i].VerdictData = &expr.Verdict{Kind: expr.VerdictJump, Chain: e.jump}
		}
	}
	return out
}

// Reads.

// existing lists the families in which table name exists.
func (k kernel) existing(name string) ([]family, error) {
	c, err := k.conn()
	if err != nil {
		return nil, err
	}
	var out []family
	for _, f := range families {
		if t, err := c.ListTableOfFamily(name, f.nf()); err == nil && t != nil {
			out = append(out, f)
		}
	}
	return out, nil
}

// delTables deletes table name in every family that has it.
func (k kernel) delTables(name string) error {
	fams, err := k.existing(name)
	if err != nil {
		return err
	}
	b := newBatch(name)
	for _, f := range fams {
		b.delTable(f)
	}
	return k.run(b)
}

// filled says each of the chains holds rules: deleting a table, or
// flushing it, empties them.
func (k kernel) filled(table string, chains map[family][]string) bool {
	c, err := k.conn()
	if err != nil {
		return false
	}
	for f, names := range chains {
		t := nfTable(table, f)
		for _, n := range names {
			rules, err := c.GetRules(t, &nftables.Chain{Name: n, Table: t})
			if err != nil || len(rules) == 0 {
				return false
			}
		}
	}
	return true
}

// learned reads the learned addresses: address -> MAC.
func (k kernel) learned(table string) (map[netip.Addr]string, error) {
	c, err := k.conn()
	if err != nil {
		return nil, err
	}
	t := nfTable(table, famINet)
	out := map[netip.Addr]string{}
	for _, v := range []int{4, 6} {
		els, err := c.GetSetElements(nfSet(t, learnedMap(v, 0)))
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

// counters reads every named counter of a table, in one dump: a device's
// counters alone would cost a dump each (GetObj lists the whole table).
func (k kernel) counters(table string, f family) (map[string][2]uint64, error) {
	c, err := k.conn()
	if err != nil {
		return nil, err
	}
	objs, err := c.GetObjects(nfTable(table, f))
	if err != nil {
		return nil, err
	}
	out := make(map[string][2]uint64, len(objs))
	for _, o := range objs {
		if co, ok := o.(*nftables.CounterObj); ok {
			v := out[co.Name]
			out[co.Name] = [2]uint64{v[0] + co.Packets, v[1] + co.Bytes}
		}
	}
	return out, nil
}
