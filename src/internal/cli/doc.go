// Package cli implements trustjoin's subcommands: the daemon, the commands a
// householder or script runs against it, and the rpcd plugin protocol. It
// wires the lower packages together; the behaviour lives in them.
package cli
