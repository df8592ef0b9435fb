// Package tr069 describes trustjoin's TR-181 vendor extension,
// Device.X_<VENDOR>_TrustJoin., once, and generates from that description
// the bbfdm JSON plugin (json_plugin_version 2) that icwmp and USP agents
// built on bbfdm load. Parameters map to the UCI file /etc/config/trustjoin
// (settings an ACS may write) and to the ubus object "trustjoin" (the rpcd
// plugin: status and counters), so they cannot drift: tests check every
// mapping against the shipped config and the rpcd method table.
package tr069
