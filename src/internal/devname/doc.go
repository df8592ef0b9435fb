// Package devname says which device names trustjoin accepts. Names come
// from people and from afar (the CLI, the local API, rpcd for LuCI and
// TR-069 ACSs, the phone page, a device's own QR code) and end up in
// tables, terminals, logs and web pages, so every entry point checks them
// with Check before anything is stored: no control characters (a newline
// forges a table row, an escape sequence drives a terminal), no characters
// that reorder text on screen, and a bounded length.
package devname
