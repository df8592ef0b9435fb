package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/rpcd"
)

func init() {
	commands["rpcd"] = command{summary: "act as the rpcd plugin (list | call METHOD)", run: runRPCD}
}

// runRPCD is what /usr/libexec/rpcd/trustjoin runs. rpcd passes no options,
// so the configuration path comes from TRUSTJOIN_CONFIG or the default (and
// the last good one from TRUSTJOIN_LAST_GOOD or the default).
func runRPCD(ctx context.Context, env Env) int {
	if len(env.Args) == 1 && env.Args[0] == "list" {
		if err := rpcd.List(env.Stdout); err != nil {
			return 1
		}
		return 0
	}
	if len(env.Args) != 2 || env.Args[0] != "call" {
		fmt.Fprintln(env.Stderr, "usage: trustjoin rpcd list | trustjoin rpcd call METHOD < args.json")
		return 2
	}
	path := os.Getenv("TRUSTJOIN_CONFIG")
	if path == "" {
		path = config.DefaultPath
	}
	// A configuration the daemon rejected (an ACS push gone wrong) must not
	// cut ubus off from it, least of all from the status saying why: the
	// daemon runs on the last good one, so its socket is named there.
	lastGood := os.Getenv("TRUSTJOIN_LAST_GOOD")
	if lastGood == "" {
		lastGood = defaultLastGood
	}
	socket := "/var/run/trustjoin/api.sock"
	for _, p := range []string{path, lastGood} {
		if cfg, err := config.Load(p); err == nil {
			socket = cfg.Main.APISocket
			break
		}
	}
	// rpcd ignores the exit status and stderr (see rpcd.Call); both are for
	// a person running the plugin by hand.
	if err := rpcd.Call(ctx, api.NewClient(socket), env.Args[1], env.Stdin, env.Stdout); err != nil {
		fmt.Fprintf(env.Stderr, "trustjoin rpcd call %s: %v\n", env.Args[1], err)
		return 1
	}
	return 0
}
