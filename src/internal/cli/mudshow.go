package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/trustjoin/trustjoin/src/internal/api"
)

// runMUDShow says what is enforced for a device, as the daemon has it:
// its standing and MUD policy, and the nftables rules the firewall made
// for it with their counters. It asks the daemon (which reads the kernel)
// and never touches nftables itself.
func runMUDShow(ctx context.Context, env Env) int {
	f := newClientFlags("mud show", env)
	id, ok := oneArg(f, env, "device id or name")
	if !ok {
		return 2
	}
	var e api.Enforced
	return f.call(ctx, env, "GET", "/v1/devices/"+url.PathEscape(id)+"/enforced", nil, &e, func(w io.Writer) { printEnforced(w, e) })
}

func printEnforced(w io.Writer, e api.Enforced) {
	d := e.Device
	fmt.Fprintf(w, "%s (%s)\n  segment: %s\n", esc(d.Name), esc(d.ID), esc(d.Segment))
	if d.Quarantined {
		fmt.Fprintln(w, "  QUARANTINED: reaches only DHCP and DNS")
	}
	switch {
	case d.MUD.URL == "":
		fmt.Fprintln(w, "  MUD: none; the device gets what its segment allows")
	case d.MUD.Status == "enforced":
		fmt.Fprintf(w, "  MUD: %s (enforced) %s\n", esc(d.MUD.URL), esc(d.MUD.Detail))
	default:
		fmt.Fprintf(w, "  MUD: %s (%s, not enforced: the device gets what its segment allows) %s\n", esc(d.MUD.URL), esc(d.MUD.Status), esc(d.MUD.Detail))
	}
	if !e.InFirewall {
		fmt.Fprintf(w, "  firewall: %s\n", esc(e.Reason))
		return
	}
	if c := e.Counters; c != nil {
		fmt.Fprintf(w, "  firewall: accepted %s (%s), dropped %s (%s)\n",
			count64(c.AcceptedPackets, "packet"), count64(c.AcceptedBytes, "byte"),
			count64(c.DroppedPackets, "packet"), count64(c.DroppedBytes, "byte"))
	}
	fmt.Fprintln(w, "  its nftables rules, as in force:")
	for _, l := range strings.Split(strings.TrimRight(e.Rules, "\n"), "\n") {
		// Escaped past the indentation: names in rules come from MUD files.
		body := strings.TrimLeft(l, "\t")
		fmt.Fprintf(w, "\t%s%s\n", l[:len(l)-len(body)], esc(body))
	}
}

// count64 is count for the firewall's counters, which outgrow a router's
// 32-bit int.
func count64(n uint64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
