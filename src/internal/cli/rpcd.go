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
// so the configuration path comes from TRUSTJOIN_CONFIG or the default.
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
	socket := "/var/run/trustjoin/api.sock"
	if cfg, err := config.Load(path); err == nil {
		socket = cfg.Main.APISocket
	}
	if !rpcd.Call(ctx, api.NewClient(socket), env.Args[1], env.Stdin, env.Stdout) {
		return 1
	}
	return 0
}
