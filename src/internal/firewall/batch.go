package firewall

import (
	"time"
)

// A batch is what the planner wants done in the kernel in one netlink
// transaction (applied whole or not at all), as a list of operations on
// trustjoin's tables. The applier (apply_linux.go) turns it into netlink
// messages; script and ruleset (nft.go) print it in nft syntax.
type batch struct {
	table string // both tables' name
	ops   []op
}

type opKind byte

const (
	opAddTable opKind = iota + 1
	opDelTable
	opAddChain // a base chain when hook is set
	opFlushChain
	opDelChain
	opTrimChain // keep only the chain's first rule (the applier lists it)
	opAddRule
	opInsertRule // at the head of the chain
	opAddSet     // with elements
	opFlushSet
	opDelSet
	opAddElems
	opDelElems
	opAddCounter
	opDelCounter
)

// op is one operation; fam and name (chain, set or counter) say on what.
type op struct {
	kind  opKind
	fam   family
	name  string
	hook  *hook    // base chains
	set   *setSpec // sets and their elements
	elems []elem
	rule  rule
}

type hookKind byte

const (
	hookForward hookKind = iota + 1
	hookInput
	hookOutput
)

// hook makes a chain a base chain: type filter, this hook and priority,
// policy accept.
type hook struct {
	hook hookKind
	prio int
}

type keyType byte

const (
	kIfname keyType = iota + 1
	kEther
	kIPv4
	kIPv6
	kVerdict // map data only
)

// setSpec describes a set or map; every operation on it carries the
// same description.
type setSpec struct {
	fam  family
	name string
	key  keyType
	data keyType // 0: a set; otherwise a map to this
	// timeout: elements may carry timeouts; dynamic: the data path adds
	// elements (with timeout, the default one, of at most size).
	timeout, dynamic bool
	defTimeout       time.Duration
	size             uint32
}

// elem is one element: a key, and for a map its data (a MAC) or a jump.
type elem struct {
	key     []byte
	val     []byte
	jump    string
	timeout time.Duration
}

// newBatch is an empty batch, with room for what one device needs.
func newBatch(table string) *batch { return &batch{table: table, ops: make([]op, 0, 64)} }

func (b *batch) add(o op) { b.ops = append(b.ops, o) }

func (b *batch) empty() bool { return b == nil || len(b.ops) == 0 }

func (b *batch) addTable(f family) { b.add(op{kind: opAddTable, fam: f}) }
func (b *batch) delTable(f family) { b.add(op{kind: opDelTable, fam: f}) }

func (b *batch) addChain(f family, name string) { b.add(op{kind: opAddChain, fam: f, name: name}) }

func (b *batch) addBaseChain(f family, name string, h hookKind, prio int) {
	b.add(op{kind: opAddChain, fam: f, name: name, hook: &hook{hook: h, prio: prio}})
}

func (b *batch) flushChain(f family, name string) { b.add(op{kind: opFlushChain, fam: f, name: name}) }
func (b *batch) delChain(f family, name string)   { b.add(op{kind: opDelChain, fam: f, name: name}) }
func (b *batch) trimChain(f family, name string)  { b.add(op{kind: opTrimChain, fam: f, name: name}) }

func (b *batch) addRule(f family, chain string, r rule) {
	b.add(op{kind: opAddRule, fam: f, name: chain, rule: r})
}

func (b *batch) insertRule(f family, chain string, r rule) {
	b.add(op{kind: opInsertRule, fam: f, name: chain, rule: r})
}

func (b *batch) addSet(s *setSpec, el []elem) {
	b.add(op{kind: opAddSet, fam: s.fam, name: s.name, set: s, elems: el})
}

func (b *batch) flushSet(s *setSpec) { b.add(op{kind: opFlushSet, fam: s.fam, name: s.name, set: s}) }
func (b *batch) delSet(s *setSpec)   { b.add(op{kind: opDelSet, fam: s.fam, name: s.name, set: s}) }

// addElems and delElems do nothing for no elements.
func (b *batch) addElems(s *setSpec, el []elem) {
	if len(el) > 0 {
		b.add(op{kind: opAddElems, fam: s.fam, name: s.name, set: s, elems: el})
	}
}

func (b *batch) delElems(s *setSpec, el []elem) {
	if len(el) > 0 {
		b.add(op{kind: opDelElems, fam: s.fam, name: s.name, set: s, elems: el})
	}
}

func (b *batch) addCounter(f family, name string) { b.add(op{kind: opAddCounter, fam: f, name: name}) }
func (b *batch) delCounter(f family, name string) { b.add(op{kind: opDelCounter, fam: f, name: name}) }

// keys makes elements of keys.
func keys[K ~[]byte](ks ...K) []elem {
	out := make([]elem, 0, len(ks))
	for _, k := range ks {
		out = append(out, elem{key: []byte(k)})
	}
	return out
}

// ifname is an interface name as the kernel compares it: 16 bytes,
// NUL-padded.
func ifname(s string) []byte {
	b := make([]byte, 16)
	copy(b, s)
	return b
}

func ifnames(names ...string) []elem {
	out := make([]elem, 0, len(names))
	for _, n := range names {
		out = append(out, elem{key: ifname(n)})
	}
	return out
}
