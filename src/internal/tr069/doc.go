// Package tr069 describes trustjoin's TR-181 vendor extension,
// Device.X_<VENDOR>_TrustJoin., once (Model), and generates from that
// description the files CWMP and USP agents load: the bbfdm JSON plugin
// (json_plugin_version 2) for icwmp and bbfdm-based USP agents, and the
// easycwmp function script. Parameters map to the UCI file
// /etc/config/trustjoin (settings an ACS may write) and to the ubus object
// "trustjoin" (the rpcd plugin: status, counters, devices, pre-authorised
// devices, and the writes that are actions: move, quarantine, preauth_add,
// preauth_remove). Tests check every mapping against the shipped config
// and the rpcd method table, and the shipped files against the generators.
package tr069
