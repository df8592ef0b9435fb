package firewall

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// RenderOptions say what Render and Explain assume about the router and
// the device a MUD policy is for; the zero value is a home router with
// one segment.
type RenderOptions struct {
	// Segments are the router's; default one segment "lan" on br-lan,
	// with the internet.
	Segments []Segment
	// Segment names the device's; default the first.
	Segment string
	// MAC is the device's; default 02:00:00:00:00:01.
	MAC net.HardwareAddr
	// Manufacturer is the authority of the device's MUD URL, for
	// same-manufacturer matches; default the policy URL's host.
	Manufacturer string
	// Controllers give controller and my-controller matches their
	// addresses; without them such matches grant nothing.
	Controllers []config.Controller
	// Table names the tables; default "trustjoin".
	Table string
}

// Render returns the nftables ruleset trustjoin would install for a
// device governed by MUD policy p, as nft prints it: both tables with
// their base chains, the segments, and the device's chains and sets.
// `nft -f` loads it as it is. It touches no kernel and runs anywhere.
// The sets of DNS names it shows empty: the router fills them from its
// resolver.
func Render(p *mud.Policy, o RenderOptions) (string, error) {
	s, err := o.state(p)
	if err != nil {
		return "", err
	}
	rs, err := ruleset(s.installBatches(time.Now())...)
	if err != nil {
		return "", err
	}
	st := s.sortedDevs()[0]
	ch := func(sd side) string { return entryChain(st.n, sd) + " and " + st.chain(sd) }
	head := fmt.Sprintf(`# trustjoin's nftables tables for a device governed by the MUD file
# %s,
# in segment %q (MAC %s), as the router installs them;
# "nft -f" loads this as it is. The device's chains: %s judge
# what it sends (forwarded, or bridged in the bridge table), %s what
# it sends the router, %s what it receives; counter %s counts what
# they judge, %s what they drop. Sets n... hold the addresses of a DNS
# name (the router fills them from its resolver), g... the devices of one
# manufacturer or model.
`, p.URL, st.dev.Segment, st.dev.MACs[0], ch(sideOut), ch(sideRouter), ch(sideIn), st.allName(), st.dropName())
	return head + rs, nil
}

// ACERules is what one access-control entry of a policy compiles to.
type ACERules struct {
	// FromDevice: an entry of the from-device policy, else to-device.
	FromDevice bool
	ACL, ACE   string
	Accept     bool
	// Rules are the nft rules it became, in order; none: it grants (or
	// drops) nothing here.
	Rules []ChainRule
}

// ChainRule is one rule and the chain it is in: "inet from device"
// (forwarded), "inet to router", "inet to device", "bridge from device",
// "bridge to device".
type ChainRule struct {
	Chain, Rule string
}

// Explain compiles each entry of p as Render does and returns the rules
// each became, for `trustjoin mud check`.
func Explain(p *mud.Policy, o RenderOptions) ([]ACERules, error) {
	s, err := o.state(p)
	if err != nil {
		return nil, err
	}
	var out []ACERules
	err = s.eachACE(func(a aceCompiled) error {
		if a.first {
			out = append(out, ACERules{FromDevice: a.fromDev, ACL: a.r.ACL, ACE: a.r.ACE, Accept: a.r.Accept})
		}
		last := &out[len(out)-1]
		for _, x := range a.rules {
			last.Rules = append(last.Rules, ChainRule{Chain: a.t.chainName(), Rule: x.nft(a.t.fam)})
		}
		return nil
	})
	return out, err
}

// CheckNarrow compiles each entry of p as Render does and checks that
// no rule an accept entry becomes matches more than the entry, and no
// rule a drop entry becomes matches less: every match of an accept
// entry (IP version or ethertype, protocol, addresses, DNS names, ports,
// the direction of TCP connections, the peer) is in each of its rules,
// and each match of a drop rule is one of its entry's. It returns the
// first entry and rule that fail, nil when none does. It is the hook for
// property and fuzz tests of the MUD parser and this compiler (issue 16:
// compiling never yields a rule broader than its ACE).
func CheckNarrow(p *mud.Policy, o RenderOptions) error {
	s, err := o.state(p)
	if err != nil {
		return err
	}
	return s.eachACE(func(a aceCompiled) error {
		for _, x := range a.rules {
			if why := a.t.broader(a.r, x); why != "" {
				return fmt.Errorf("%s entry %s/%s, %s: rule %q %s", policyName(a.fromDev), a.r.ACL, a.r.ACE, a.t.chainName(), x.nft(a.t.fam), why)
			}
		}
		return nil
	})
}

func policyName(fromDev bool) string {
	if fromDev {
		return "from-device"
	}
	return "to-device"
}

// state builds the planner state of a router with o's segments and one
// device governed by p, applied.
func (o RenderOptions) state(p *mud.Policy) (*state, error) {
	if p == nil {
		return nil, fmt.Errorf("no policy")
	}
	if len(o.Segments) == 0 {
		o.Segments = []Segment{{Name: "lan", Ifaces: []string{"br-lan"}, Internet: true}}
	}
	if err := validateSegments(o.Segments); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if o.Segment == "" {
		o.Segment = o.Segments[0].Name
	}
	if len(o.MAC) == 0 {
		o.MAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	}
	if o.Manufacturer == "" {
		if u, err := url.Parse(p.URL); err == nil {
			o.Manufacturer = u.Hostname()
		}
	}
	opts := Options{Table: o.Table, Controllers: o.Controllers}
	opts.defaults()
	s := newState(opts)
	// One slot, not a chunk of them: only this device's chains show.
	s.chunk = 1
	s.segs = o.Segments
	if _, ok := s.segment(o.Segment); !ok {
		return nil, fmt.Errorf("%w: no segment %q", ErrInvalid, o.Segment)
	}
	d := Device{ID: "device", MACs: []net.HardwareAddr{o.MAC}, Segment: o.Segment, Policy: p, Manufacturer: o.Manufacturer}
	if err := validateDevice(d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	_, commit, err := s.planApply(d, nil, time.Now())
	if err != nil {
		return nil, err
	}
	commit()
	return s, nil
}

// installBatches are what installing the state on a kernel without its
// tables sends (as Enforcer.installLocked does): the tables, the slots,
// each device.
func (s *state) installBatches(now time.Time) []*batch {
	bs := []*batch{s.planTables(nil, s.ports, now)}
	slots := newBatch(s.table)
	s.planSlots(slots, 0, s.nSlots)
	bs = append(bs, slots)
	for _, st := range s.sortedDevs() {
		b := newBatch(s.table)
		d := *st
		d.quar = s.quarantined(st.dev)
		s.planDevice(b, &d, nil)
		bs = append(bs, b)
	}
	return bs
}

// aceCompiled is one entry compiled for one chain.
type aceCompiled struct {
	fromDev bool
	first   bool // the entry's first chain
	r       mud.Rule
	t       target
	rules   []rule
}

// eachACE compiles every entry of the (only) device's policy for each
// chain it goes to, in policy order.
func (s *state) eachACE(f func(aceCompiled) error) error {
	for _, st := range s.sortedDevs() {
		if st.quar || st.dev.Policy == nil {
			continue
		}
		for _, pol := range []struct {
			fromDev bool
			rules   []mud.Rule
		}{{true, st.dev.Policy.FromDevice}, {false, st.dev.Policy.ToDevice}} {
			for _, r := range pol.rules {
				first := true
				for _, fam := range families {
					for _, sd := range sides(fam) {
						if (sd == sideIn) == pol.fromDev {
							continue
						}
						t := target{fam: fam, sd: sd, dev: st.dev, ctl: s.controllers, drop: st.dropName()}
						if err := f(aceCompiled{fromDev: pol.fromDev, first: first, r: r, t: t, rules: t.compile(r)}); err != nil {
							return err
						}
						first = false
					}
				}
			}
		}
	}
	return nil
}

func (t target) chainName() string {
	switch t.sd {
	case sideIn:
		return t.fam.String() + " to device"
	case sideRouter:
		return t.fam.String() + " to router"
	}
	return t.fam.String() + " from device"
}

// renderDevice renders the chains of device id as they are in force:
// its entry chains and the slot chains they go to, in both tables, and
// its counters with values (by family and name, "inet c1t"; none: 0).
func (s *state) renderDevice(id string, values map[string][2]uint64) (string, error) {
	st, ok := s.devs[id]
	if !ok {
		return "", fmt.Errorf("no device %s", id)
	}
	b := newBatch(s.table)
	for _, fam := range families {
		b.addTable(fam)
		b.addCounter(fam, st.allName())
		b.addCounter(fam, st.dropName())
		chains := s.devChains(fam, st)
		for _, sd := range sides(fam) {
			b.addChain(fam, entryChain(st.n, sd))
			b.addRule(fam, entryChain(st.n, sd), mkRule(gotoTo(st.chain(sd))))
		}
		for _, sd := range sides(fam) {
			b.addChain(fam, st.chain(sd))
			for _, r := range chains[sd] {
				b.addRule(fam, st.chain(sd), r)
			}
		}
	}
	return countedRuleset(values, b)
}
