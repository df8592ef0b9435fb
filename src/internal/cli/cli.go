package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/trustjoin/trustjoin/src/internal/build"
)

// Env is what a command may touch: its arguments and standard streams.
type Env struct {
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// A command is one subcommand. run returns the process exit status.
type command struct {
	summary string
	run     func(ctx context.Context, env Env) int
}

// commands is filled by each command's file, so adding a command touches
// only its own file.
var commands = map[string]command{
	"version": {summary: "print the version", run: runVersion},
}

// Run dispatches args[0] to its subcommand and returns the exit status.
func Run(ctx context.Context, env Env) int {
	if len(env.Args) == 0 {
		usage(env.Stderr)
		return 2
	}
	name := env.Args[0]
	switch name {
	case "-h", "--help", "help":
		usage(env.Stdout)
		return 0
	case "--version", "-version", "-v":
		// OpenWrt's package CI runs binaries with --version and looks for
		// the package version in the output.
		name = "version"
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(env.Stderr, "trustjoin: unknown command %q\n", name)
		usage(env.Stderr)
		return 2
	}
	env.Args = env.Args[1:]
	return cmd.run(ctx, env)
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: trustjoin <command> [arguments]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, commands[n].summary)
	}
	b.WriteString("\nRun 'trustjoin <command> -h' for a command's options.\n")
	io.WriteString(w, b.String())
}

// newFlags returns a FlagSet that reports errors instead of exiting.
func newFlags(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet("trustjoin "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

func runVersion(_ context.Context, env Env) int {
	fmt.Fprintf(env.Stdout, "trustjoin %s\n", build.Version)
	return 0
}
