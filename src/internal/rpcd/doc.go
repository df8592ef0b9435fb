// Package rpcd makes trustjoin an rpcd exec plugin, so LuCI and other ubus
// clients (TR-069's bbfdm and easycwmp) reach the daemon as the ubus object
// "trustjoin": "list" prints the method signatures, "call METHOD" reads the
// arguments as JSON on stdin, forwards them to the local API and prints the
// reply. Replies are re-encoded through the API's own types, so only known
// fields pass (behaviour and unknown add their lists as strings, which
// TR-181 parameters can carry), and a daemon that is down or slow gives a clear error
// quickly rather than a hang (rpcd kills plugins after 120 s). A failed call
// is an error status for callers on the bus, so that agents report faults,
// and an {"error": ...} reply for callers through uhttpd (see Call).
package rpcd
