package firewall

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// recorder stands in for the kernel: it records the netlink messages the
// applier sends and acknowledges each, as google/nftables' own nftest
// recorder does. No root needed.
type recorder struct{ msgs []netlink.Message }

func (r *recorder) kernel() kernel {
	return kernel{opts: []nftables.ConnOption{nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		var acks []netlink.Message
		for _, m := range req {
			r.msgs = append(r.msgs, m)
			if m.Header.Flags&netlink.Acknowledge != 0 {
				acks = append(acks, netlink.Message{Header: netlink.Header{Length: 4, Type: netlink.Error,
					Sequence: m.Header.Sequence, PID: m.Header.PID}, Data: make([]byte, 4)})
			}
		}
		return acks, nil
	})}}
}

// sent lists the nftables messages recorded (without the batch's begin
// and end).
func (r *recorder) sent() []netlink.Message {
	var out []netlink.Message
	for _, m := range r.msgs {
		if uint16(m.Header.Type)>>8 == unix.NFNL_SUBSYS_NFTABLES {
			out = append(out, m)
		}
	}
	return out
}

// TestApplierSendsThePlan: the applier turns each operation of a batch
// into its netlink message, in order, rules with the expressions the
// model gives them (add appends, insert does not), and one batch into
// one transaction.
func TestApplierSendsThePlan(t *testing.T) {
	s := testState(Options{Table: "tj"})
	s.segs = planSegs
	s.join = Join{Ifaces: []string{"join0"}, ProxyPort: 8443, IPv4: true}
	var bs []*batch
	bs = append(bs, s.planTables(nil, nil, time.Unix(0, 0)))
	for _, st := range []step{apply(cam(webPolicy)), apply(cam(tlsPolicy)),
		learned(map[netip.Addr]string{netip.MustParseAddr("10.77.1.11"): string(mac1)}),
		setSegments([]Segment{{Name: "home", Ifaces: []string{"br0"}, Quarantine: true}}), remove("cam")} {
		bs = append(bs, st(t, s))
	}
	msgType := map[opKind]int{
		opAddTable: unix.NFT_MSG_NEWTABLE, opDelTable: unix.NFT_MSG_DELTABLE,
		opAddChain: unix.NFT_MSG_NEWCHAIN, opFlushChain: unix.NFT_MSG_DELRULE, opDelChain: unix.NFT_MSG_DELCHAIN,
		opAddRule: unix.NFT_MSG_NEWRULE, opInsertRule: unix.NFT_MSG_NEWRULE,
		opAddSet: unix.NFT_MSG_NEWSET, opFlushSet: unix.NFT_MSG_DELSETELEM, opDelSet: unix.NFT_MSG_DELSET,
		opAddElems: unix.NFT_MSG_NEWSETELEM, opDelElems: unix.NFT_MSG_DELSETELEM,
		opAddCounter: unix.NFT_MSG_NEWOBJ, opDelCounter: unix.NFT_MSG_DELOBJ,
	}
	for i, b := range bs {
		r := &recorder{}
		if err := r.kernel().run(b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		begins := 0
		for _, m := range r.msgs {
			if m.Header.Type == unix.NFNL_MSG_BATCH_BEGIN {
				begins++
			}
		}
		if begins != 1 {
			t.Errorf("batch %d went as %d transactions", i, begins)
		}
		sent := r.sent()
		k := 0
		for _, o := range b.ops {
			want := []int{msgType[o.kind]}
			if o.kind == opAddSet && len(o.elems) > 0 {
				want = append(want, unix.NFT_MSG_NEWSETELEM)
			}
			for _, w := range want {
				if k >= len(sent) {
					t.Fatalf("batch %d: %d messages for %d operations", i, len(sent), len(b.ops))
				}
				m := sent[k]
				k++
				if got := int(uint16(m.Header.Type) & 0xff); got != w {
					t.Errorf("batch %d: %q sent as message type %d, want %d", i, o.command(b.table), got, w)
					continue
				}
				if o.kind != opAddRule && o.kind != opInsertRule {
					continue
				}
				appends := m.Header.Flags&netlink.Append != 0
				if appends != (o.kind == opAddRule) {
					t.Errorf("batch %d: %q appends: %v", i, o.command(b.table), appends)
				}
				if n, want := ruleExprs(t, m), len(o.rule.exprs(o.fam)); n != want {
					t.Errorf("batch %d: %q sent with %d expressions, want %d", i, o.command(b.table), n, want)
				}
			}
		}
		if k != len(sent) {
			t.Errorf("batch %d: %d messages for %d operations", i, len(sent), len(b.ops))
		}
	}
}

// ruleExprs counts the expressions of a NEWRULE message.
func ruleExprs(t *testing.T, m netlink.Message) int {
	ad, err := netlink.NewAttributeDecoder(m.Data[4:]) // after struct nfgenmsg
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ad.Next() {
		if ad.Type() == unix.NFTA_RULE_EXPRESSIONS {
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					n++
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}
