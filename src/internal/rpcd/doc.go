// Package rpcd makes trustjoin an rpcd exec plugin, so LuCI and other ubus
// clients (TR-069's bbfdm) reach the daemon as the ubus object "trustjoin":
// "list" prints the method signatures, "call METHOD" reads the arguments as
// JSON on stdin, forwards them to the local API and prints one JSON object.
// Replies are re-encoded through the API's own types, so only known fields
// pass, and a daemon that is down or slow gives a clear error quickly
// rather than a hang (rpcd kills plugins after 120 s).
package rpcd
