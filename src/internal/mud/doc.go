// Package mud understands Manufacturer Usage Description files (RFC 8520):
// it parses them into a policy model of who a device may talk to, tolerating
// the well-known deviations of files found in the wild with warnings and
// rejecting the rest with the place in the file that is wrong; and it
// fetches them over HTTPS only, caching each for its cache-validity and
// keeping the last good copy when a refresh fails. The same bytes always
// give the same policy, and what it cannot read exactly only ever narrows
// it: an accept entry not fully understood grants nothing, a drop entry
// drops without the part not understood. Every entry is accounted for
// (Policy.Entries): the rules it became, or why it grants nothing. It
// knows nothing of nftables; the firewall compiles its model.
package mud
