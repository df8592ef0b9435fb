// Package device owns the household's devices: it is the one place a
// device's standing changes, and where its segment is decided. Every
// change goes through it, whoever asks: onboarding and its outcome (from
// the onboarding engine, package dpp), moving, quarantine and release,
// removal, credential rotation and expiry, renaming, pre-authorisation,
// and the device's MUD URL with one validation whatever its source (the
// householder, an ISP, DHCP, DPP). Each change is checked against who
// asks (Actor: the householder, a phone link, the device itself,
// trustjoin) in one place, saved in the registry with a line in the
// device's history, and told to observers (Options.Observe; Options.Allow
// adds a rule of one's own).
//
// From a device's standing the Owner derives its Confinement: the MAC
// addresses, segment, quarantine and MUD policy the firewall enforces, and
// the PSK lines (key id and VLAN) the access points hold. It brings the
// firewall (package firewall) and the PSK files with their hostapd
// (package credential) to it, at once for the householder's changes and in
// the background for what devices do, retries what failed, and reports
// what is in force with the firewall's counters (InForce). MUD files are
// fetched, verified and decided by package mudpolicy; the Owner records
// the decisions and keeps them fresh.
package device
