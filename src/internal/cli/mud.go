package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"

	"github.com/trustjoin/trustjoin/src/internal/api"
)

func init() {
	commands["mud"] = command{summary: "MUD policies: set DEVICE URL | approve DEVICE | dhcp | check FILE|URL | show DEVICE | learn DEVICE", run: runMUD}
}

// getenv reads the environment dnsmasq hands its DHCP script.
var getenv = os.Getenv

func runMUD(ctx context.Context, env Env) int {
	if len(env.Args) == 0 {
		fmt.Fprintln(env.Stderr, `usage: trustjoin mud set DEVICE URL    record a device's MUD URL by hand (https only)
       trustjoin mud approve DEVICE    let the device's current MUD file be enforced although its signature is not verified
       trustjoin mud dhcp              record the MUD URL a DHCP client sent (from dnsmasq's MACADDR and DNSMASQ_MUD_URL)
       trustjoin mud check FILE|URL    say what a MUD file becomes, without a daemon (--json, --nft)
       trustjoin mud show DEVICE       what is enforced for a device: its policy, its nftables rules and their counters
       trustjoin mud learn DEVICE      the profile learned from a device without a MUD file, as a MUD file (--explain: in words; --approve: enforce it)`)
		return 2
	}
	if env.Args[0] == "check" {
		return runMUDCheck(ctx, Env{Args: env.Args[1:], Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr})
	}
	if env.Args[0] == "show" {
		return runMUDShow(ctx, Env{Args: env.Args[1:], Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr})
	}
	if env.Args[0] == "learn" {
		return runMUDLearn(ctx, Env{Args: env.Args[1:], Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr})
	}
	sub := env.Args[0]
	env.Args = env.Args[1:]
	f := newClientFlags("mud "+sub, env)
	pos, err := parseAnywhere(f.fs, env.Args)
	if err != nil {
		return 2
	}
	want := map[string]int{"set": 2, "approve": 1, "dhcp": 0}
	n, ok := want[sub]
	if !ok {
		fmt.Fprintf(env.Stderr, "trustjoin mud: unknown command %q (want set, approve, dhcp, check, show or learn)\n", sub)
		return 2
	}
	if len(pos) != n {
		fmt.Fprintf(env.Stderr, "trustjoin mud %s: want %d arguments, got %d\n", sub, n, len(pos))
		return 2
	}
	var d api.Device
	show := func(w io.Writer) { printDevice(w, d) }
	switch sub {
	case "set":
		return f.call(ctx, env, "POST", "/v1/devices/"+url.PathEscape(pos[0])+"/mud", api.MUDRequest{URL: pos[1], Source: "user"}, &d, show)
	case "approve":
		return f.call(ctx, env, "POST", "/v1/devices/"+url.PathEscape(pos[0])+"/mud/approve", nil, &d, show)
	}
	return mudDHCP(ctx, env, f)
}

// mudDHCP records the MUD URL of a DHCP client on the device with its MAC
// address. It reads the environment, not arguments: that is how dnsmasq
// and OpenWrt's hotplug pass it.
func mudDHCP(ctx context.Context, env Env, f *clientFlags) int {
	u, macArg := getenv("DNSMASQ_MUD_URL"), getenv("MACADDR")
	if u == "" {
		// Most clients send none: nothing to do.
		return 0
	}
	mac, err := net.ParseMAC(macArg)
	if err != nil {
		fmt.Fprintf(env.Stderr, "trustjoin mud dhcp: MACADDR %q is not a MAC address; the MUD URL %s is not recorded\n", macArg, esc(u))
		return 2
	}
	// One call: the daemon finds the device by its MAC address.
	var d api.Device
	return f.call(ctx, env, "POST", "/v1/macs/"+url.PathEscape(mac.String())+"/mud", api.MUDRequest{URL: u, Source: "dhcp"}, &d, func(w io.Writer) {
		fmt.Fprintf(w, "%s (%s): MUD URL %s, %s\n", esc(d.Name), mac, esc(d.MUD.URL), esc(d.MUD.Status))
	})
}
