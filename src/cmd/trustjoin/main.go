// Command trustjoin makes adding a device to a home network trusted: the
// daemon onboards devices with their own credentials and keeps each in its
// lane; the other subcommands drive it.
package main

import (
	"context"
	"os"

	"github.com/trustjoin/trustjoin/src/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), cli.Env{
		Args:   os.Args[1:],
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}))
}
