package cli

import "github.com/trustjoin/trustjoin/src/internal/devname"

// esc makes text from the daemon fit to print: names, URLs, host names and
// messages may hold what came from afar (a device's QR code, DHCP, mDNS,
// names stored before they were checked), and a newline or an escape
// sequence must not forge a table row or drive the terminal.
func esc(s string) string { return devname.Escape(s) }
