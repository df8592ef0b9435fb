// Package api is trustjoin's local API: JSON over HTTP on a root-only UNIX
// socket, used by the CLI, the rpcd plugin behind the LuCI page and the
// TR-069 hooks. It reaches devices and radios only through the Service it is
// given; no reply ever carries a passphrase or key, and the only token is
// the one-time phone link POST /v1/phone exists to hand out.
package api
