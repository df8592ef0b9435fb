// Package build carries the version and build facts stamped into the binary
// at link time, so a router's logs and the LuCI page can tell which build runs.
package build
