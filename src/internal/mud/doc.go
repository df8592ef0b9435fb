// Package mud understands Manufacturer Usage Description files (RFC 8520):
// it parses them into a policy model of who a device may talk to, tolerating
// the well-known deviations of files found in the wild with warnings and
// rejecting the rest with the place in the file that is wrong; and it
// fetches them over HTTPS only, caching each for its cache-validity and
// keeping the last good copy when a refresh fails. It knows nothing of
// nftables; the firewall compiles its model.
package mud
