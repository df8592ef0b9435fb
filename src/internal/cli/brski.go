package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/authorize"
	"github.com/trustjoin/trustjoin/src/internal/brski"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/daemon"
	"github.com/trustjoin/trustjoin/src/internal/inventory"
	"github.com/trustjoin/trustjoin/src/internal/lifecycle"
	"github.com/trustjoin/trustjoin/src/internal/watch"
)

func init() {
	commands["brski"] = command{summary: "BRSKI join proxy: status", run: runBRSKI}
}

// brskiTasks starts the join proxies the configuration asks for and hands
// their status to the API.
func brskiTasks(log *slog.Logger, cfg config.BRSKI, svc *lifecycle.Service, w *watch.Watch) ([]daemon.Task, error) {
	pc := brski.ConfigFrom(cfg)
	var admit func(ctx context.Context, pledge netip.AddrPort, ifname string) error
	if w != nil {
		// The authorisation hook is asked before each of a pledge's
		// connections is relayed (a deny resets it), and about each
		// constrained pledge's address (its datagrams are dropped). The
		// pledge's MAC address, from the neighbour table, lets the hook
		// tell which device it is.
		admit = func(ctx context.Context, pledge netip.AddrPort, ifname string) error {
			addr := pledge.Addr()
			if addr.Is6() && addr.IsLinkLocalUnicast() {
				addr = addr.WithZone(ifname) // the stateless proxy's come without
			}
			d := authorize.Device{Name: "a BRSKI pledge on " + ifname, Via: "brski", Address: addr.String()}
			if mac, err := (inventory.SystemSource{}).MACOf(pledge.Addr(), ifname); err == nil {
				d.MACs = []string{mac.String()}
			} else {
				log.Debug("brski pledge's MAC address not known", "pledge", pledge, "err", err)
			}
			_, err := w.Admit(ctx, d)
			return err
		}
	}
	pc.Admit = admit
	p := brski.NewProxy(log, pc)
	// Waited for: the daemon is ready once pledges get an answer on every
	// join interface. Until then (a LAN without its link-local address
	// yet) it says "starting", and the status says why.
	tasks := []daemon.Task{p}
	var s *brski.Stateless
	if cfg.Stateless {
		var err error
		sc := brski.StatelessConfigFrom(cfg)
		sc.Admit = admit
		if s, err = brski.NewStateless(log, sc); err != nil {
			return nil, err
		}
		tasks = append(tasks, s)
	}
	svc.SetBRSKI(func() api.BRSKIStatus {
		var st *brski.StatelessStatus
		if s != nil {
			ss := s.Status()
			st = &ss
		}
		return api.NewBRSKIStatus(p.Status(), st)
	})
	return tasks, nil
}

func runBRSKI(ctx context.Context, env Env) int {
	if len(env.Args) == 0 || env.Args[0] != "status" {
		fmt.Fprintln(env.Stderr, "usage: trustjoin brski status [--json]")
		return 2
	}
	env.Args = env.Args[1:]
	f := newClientFlags("brski status", env)
	if f.fs.Parse(env.Args) != nil {
		return 2
	}
	var s api.BRSKIStatus
	return f.call(ctx, env, "GET", "/v1/brski", nil, &s, func(w io.Writer) { printBRSKI(w, s) })
}

func printBRSKI(w io.Writer, s api.BRSKIStatus) {
	if !s.Enabled {
		fmt.Fprintln(w, "BRSKI join proxy: off (enable it with brski.enabled '1')")
		return
	}
	fmt.Fprintln(w, "BRSKI join proxy: on")
	r := s.Registrar
	switch {
	case r.Address != "":
		fmt.Fprintf(w, "registrar: %s (%s, from %s)\n", esc(r.Address), esc(r.Host), esc(r.Source))
	case r.Source == "mdns":
		fmt.Fprintln(w, "registrar: to be found (GRASP AN_join_registrar, mDNS _brski-registrar._tcp) when a pledge comes")
	default:
		fmt.Fprintf(w, "registrar: %s port %d (from %s, not contacted yet)\n", esc(r.Host), r.Port, esc(r.Source))
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  problem: %s\n", esc(r.Error))
	}
	if len(s.Listeners) == 0 {
		fmt.Fprintln(w, "listening: nowhere")
	} else {
		fmt.Fprintf(w, "listening: %s\n", strings.Join(s.Listeners, ", "))
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	c := s.Counters
	fmt.Fprintf(w, "pledges: %d in flight, %d accepted; refused %d (max_connections), %d (max_per_source), %d (authorisation hook); %d registrar failures; %d idle, %d too long\n",
		c.Active, c.Accepted, c.RefusedTotal, c.RefusedPerSource, c.RefusedHook, c.RegistrarFailures, c.IdleClosed, c.TotalTimeouts)
	fmt.Fprintf(w, "bytes: %d to the registrar, %d to pledges; %d GRASP announcements sent, %d GRASP messages ignored\n",
		c.BytesToRegistrar, c.BytesToPledge, c.Announcements, c.GRASPIgnored)
	if len(s.Pledges) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SOURCE\tINTERFACE\tFOR\tUP\tDOWN")
		for _, p := range s.Pledges {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", p.Source, p.Interface, time.Since(p.Since).Round(time.Second), p.BytesToRegistrar, p.BytesToPledge)
		}
		tw.Flush()
	}
	if st := s.Stateless; st != nil {
		fmt.Fprintf(w, "stateless (CoAP/DTLS): listening %s, registrar %s\n", strings.Join(st.Listeners, ", "), st.Registrar)
		for _, p := range st.Problems {
			fmt.Fprintf(w, "  problem: %s\n", p)
		}
		c := st.Counters
		fmt.Fprintf(w, "  datagrams: %d to the registrar, %d to pledges; dropped %d bad header, %d malformed, %d wrong source, %d from pledges the authorisation hook refused, %d other; %d discovery answers\n",
			c.ToRegistrar, c.ToPledge, c.DroppedHeader, c.DroppedMalformed, c.DroppedSource, c.DroppedHook, c.DroppedOther, c.Discoveries)
		fmt.Fprintf(w, "  pledges refused by the authorisation hook: %d\n", c.RefusedHook)
	}
}
