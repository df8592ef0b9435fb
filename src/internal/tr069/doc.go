// Package tr069 describes trustjoin's TR-181 vendor extension,
// Device.X_<VENDOR>_TrustJoin., once (Model), and generates from that
// description the files CWMP and USP agents load: the bbfdm JSON plugin
// (json_plugin_version 2) for icwmp and bbfdm-based USP agents, and the
// easycwmp function script.
//
// Settings an ACS may write, and the ISP's list of pre-authorised devices,
// map to the UCI file /etc/config/trustjoin; status, counters and devices
// to the ubus object "trustjoin" (the rpcd plugin), whose move and
// quarantine methods are the writes under Device.{i}.; an object inside a
// table (Device.{i}.Stats.) reads calls about its instance (behaviour).
// The unknown devices are a read-only table (Unknown.{i}.). Every writable
// parameter declares what a value must be (ranges, enumerations, sizes,
// patterns), so the agents refuse a bad one with fault 9007 before
// anything is applied; what only trustjoin can judge (a segment named
// elsewhere, a DPP key) is refused by the daemon as a whole configuration,
// and the ACS reads why in ConfigRejected. Tests check every mapping
// against the configuration parser and the rpcd method table, the
// constraints against the parser, and the shipped files against the
// generators; test/tr069 runs both files under the real agents.
package tr069
