package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/inventory"
)

func init() {
	commands["unknown"] = command{summary: "devices on the network nobody onboarded (shared password, wired, wrong segment); block|guest|clear MAC", run: runUnknown}
	commands["events"] = command{summary: "security events: quarantines, unknown devices, expiries, hook decisions", run: runEvents}
}

// kindWords says an unknown device's kind as the table shows it.
var kindWords = map[inventory.Kind]string{
	inventory.SharedPassword: "shared password",
	inventory.Unrecognised:   "not ours",
	inventory.Wired:          "wired",
	inventory.WrongSegment:   "wrong segment",
}

func runUnknown(ctx context.Context, env Env) int {
	f := newClientFlags("unknown", env)
	// Flags anywhere: "unknown --config FILE block MAC" must block, not
	// list.
	pos, err := parseAnywhere(f.fs, env.Args)
	if err != nil {
		return 2
	}
	switch len(pos) {
	case 0:
	case 2:
		return runHandle(ctx, env, f, pos[0], pos[1])
	default:
		fmt.Fprintln(env.Stderr, "usage: trustjoin unknown [block|guest|clear MAC]")
		return 2
	}
	var l api.UnknownList
	return f.call(ctx, env, "GET", "/v1/unknown", nil, &l, func(w io.Writer) {
		switch {
		case l.Off:
			fmt.Fprintln(w, "the search for unknown devices is off (option unknown in the watch section)")
			return
		case l.Error != "":
			fmt.Fprintf(w, "the last search failed: %s\n", esc(l.Error))
		}
		if len(l.Unknown) == 0 {
			fmt.Fprintln(w, "no unknown devices: everything on the network was onboarded by trustjoin")
		}
		defer func() {
			for _, h := range l.Handled {
				fmt.Fprintf(w, "%s: %s since %s (undo: trustjoin unknown clear %s)\n", esc(h.MAC), handledWords[h.Action], h.At.Local().Format("2006-01-02 15:04"), esc(h.MAC))
			}
		}()
		if len(l.Unknown) == 0 {
			return
		}
		tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "MAC\tKIND\tWHERE\tWHO\tADDRESSES\tFIRST SEEN")
		for _, u := range l.Unknown {
			where := esc(u.Iface)
			if u.Segment != "" {
				where += " (" + esc(u.Segment) + ")"
			}
			who := "-"
			switch {
			case u.Name != "":
				who = esc(u.Name) + ", belongs in " + esc(orLAN(u.Expected))
			case u.Hostname != "":
				who = "calls itself " + esc(u.Hostname)
			}
			addrs := "-"
			if len(u.Addresses) > 0 {
				addrs = esc(strings.Join(u.Addresses, ", "))
			}
			kind := kindWords[u.Kind]
			if u.Handled != "" {
				kind += ", " + handledWords[u.Handled]
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", esc(u.MAC), kind, where, who, addrs, u.FirstSeen.Local().Format("2006-01-02 15:04"))
		}
		tw.Flush()
		fmt.Fprintln(w, "\nTo add one properly, onboard it (trustjoin onboard, or LuCI's Add a device); its entry goes once it is.")
		fmt.Fprintln(w, "Otherwise: trustjoin unknown block MAC (DHCP and DNS only, refused by the access points) or guest MAC (the internet only).")
	})
}

var handledWords = map[string]string{"block": "blocked", "guest": "confined as a guest (the internet only)"}

// runHandle: trustjoin unknown block|guest|clear MAC.
func runHandle(ctx context.Context, env Env, f *clientFlags, action, mac string) int {
	switch action {
	case "block", "guest":
	case "clear":
		action = ""
	default:
		fmt.Fprintf(env.Stderr, "trustjoin unknown: unknown command %q (want block, guest or clear)\n", action)
		return 2
	}
	var h api.HandledDevice
	return f.call(ctx, env, "POST", "/v1/unknown/"+url.PathEscape(mac), api.HandleRequest{Action: action}, &h, func(w io.Writer) {
		if h.Action == "" {
			fmt.Fprintf(w, "%s: no longer blocked or confined\n", esc(h.MAC))
			return
		}
		fmt.Fprintf(w, "%s: %s\n", esc(h.MAC), handledWords[h.Action])
	})
}

func orLAN(segment string) string {
	if segment == "" {
		return "the household network"
	}
	return "segment " + segment
}

func runEvents(ctx context.Context, env Env) int {
	f := newClientFlags("events", env)
	since := f.fs.Uint64("since", 0, "only events after this `number`")
	if f.fs.Parse(env.Args) != nil {
		return 2
	}
	var l api.EventList
	return f.call(ctx, env, "GET", "/v1/events?since="+strconv.FormatUint(*since, 10), nil, &l, func(w io.Writer) {
		if len(l.Events) == 0 {
			fmt.Fprintf(w, "no security events (%d since trustjoin started)\n", l.Counts.Total)
			return
		}
		for _, e := range l.Events {
			fmt.Fprintf(w, "#%d %s %s: %s\n", e.Seq, e.At.Local().Format("2006-01-02 15:04:05"), e.Kind, esc(e.Message))
		}
	})
}

// runMUDLearn prints a device's learned profile as a MUD file, or in
// plain words (--explain), or approves it (--approve).
func runMUDLearn(ctx context.Context, env Env) int {
	f := newClientFlags("mud learn", env)
	explain := f.fs.Bool("explain", false, "say in plain words what the profile allows")
	approve := f.fs.Bool("approve", false, "enforce the profile as the device's MUD file")
	id, ok := oneArg(f, env, "device id or name")
	if !ok {
		return 2
	}
	path := "/v1/devices/" + url.PathEscape(id) + "/learned"
	if *approve {
		var d api.Device
		return f.call(ctx, env, "POST", path+"/approve", nil, &d, func(w io.Writer) {
			fmt.Fprintf(w, "%s: its learned profile is now its MUD file\n", esc(d.Name))
			printDevice(w, d)
		})
	}
	var l api.Learned
	return f.call(ctx, env, "GET", path, nil, &l, func(w io.Writer) {
		if !*explain {
			w.Write(l.MUD)
			fmt.Fprintln(w)
			return
		}
		p := l.Profile
		state := "learned"
		if l.Learning {
			state = "being learned"
		}
		fmt.Fprintf(w, "%s %s from %s until %s:\n", esc(orID(p.Name, p.Device)), state, p.Started.Local().Format(time.DateTime), p.Until.Local().Format(time.DateTime))
		if len(l.Describe) == 0 {
			fmt.Fprintln(w, "  nothing seen yet")
		}
		for _, line := range l.Describe {
			fmt.Fprintf(w, "  %s\n", esc(line))
		}
		fmt.Fprintln(w, "Everything else would be dropped (the router's DNS, DHCP and NTP stay allowed).")
		if !l.Learning {
			fmt.Fprintf(w, "Enforce it: trustjoin mud learn %q --approve\n", id)
		}
	})
}

func orID(name, id string) string {
	if name != "" {
		return name
	}
	return id
}
