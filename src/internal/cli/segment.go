package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"

	"github.com/trustjoin/trustjoin/src/internal/api"
)

func init() {
	commands["quarantine"] = command{summary: "confine a device to DHCP and DNS at once (its open connections are cut)", run: runQuarantine(true)}
	commands["release"] = command{summary: "let a quarantined device back into its segment", run: runQuarantine(false)}
	commands["move"] = command{summary: "move a device to another segment: move DEVICE SEGMENT", run: runMove}
}

func runQuarantine(on bool) func(ctx context.Context, env Env) int {
	name, path := "release", "/release"
	if on {
		name, path = "quarantine", "/quarantine"
	}
	return func(ctx context.Context, env Env) int {
		f := newClientFlags(name, env)
		id, ok := oneArg(f, env, "device id or name")
		if !ok {
			return 2
		}
		var d api.Device
		return f.call(ctx, env, "POST", "/v1/devices/"+url.PathEscape(id)+path, nil, &d, func(w io.Writer) { printDevice(w, d) })
	}
}

func runMove(ctx context.Context, env Env) int {
	f := newClientFlags("move", env)
	pos, err := parseAnywhere(f.fs, env.Args)
	if err != nil {
		return 2
	}
	if len(pos) != 2 {
		fmt.Fprintln(env.Stderr, "trustjoin move: want a device (id or name) and a segment")
		return 2
	}
	var d api.Device
	return f.call(ctx, env, "PATCH", "/v1/devices/"+url.PathEscape(pos[0]), api.DeviceUpdate{Segment: pos[1]}, &d, func(w io.Writer) { printDevice(w, d) })
}
