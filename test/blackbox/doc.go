// Package blackbox tests the built trustjoin binary from the outside, the
// way procd, systemd and a householder's shell drive it.
package blackbox
