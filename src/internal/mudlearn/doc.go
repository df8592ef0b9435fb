// Package mudlearn is "learn, then lock" for devices without a MUD file
// (most devices today): for a period after onboarding it records what a
// device actually uses, the DNS names (or addresses) and ports of the
// connections it opens and of those others open to it, and then proposes
// a profile in MUD form (RFC 8520) that allows exactly that. Once the
// householder approves it, it is enforced exactly like a maker's MUD file:
// Keep writes it to flash as the file it becomes, the device owner gives
// the device its URL (under URLBase, a name that can never be fetched)
// with the approval of exactly that file, and Source serves such URLs
// from flash to the MUD policy manager, which decides on it and hands it
// to the firewall as it does a fetched file.
//
// What is recorded stays on the router: in RAM as it comes, and on flash
// (one small file per device) at most once an hour and only when it
// changed, so a restart during the learning period loses at most an hour.
package mudlearn
