// Package alert records the household's security events (a device
// quarantined automatically, an unknown device, a credential expiring or
// expired, an authorisation hook saying no, a MUD file changed or its
// signature failing) and tells everyone who listens: the daemon's log
// (syslog on OpenWrt), a ubus event "trustjoin.event" for other OpenWrt
// packages and rpcd, and a small ring of recent events with counters in
// RAM, which the local API hands to LuCI and TR-069. Recording never
// blocks the caller: the ubus side is fed through a bounded queue by a
// task of its own.
package alert
