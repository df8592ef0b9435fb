// Package inventory finds the devices on the household's network that
// trustjoin did not onboard (NIST IR 8350 §7, asset management). It looks
// at what the router itself sees, without sending anything: the stations
// of every access point and per-station interface (nl80211), the bridges'
// forwarding databases and the kernel's neighbour tables (rtnetlink), and
// dnsmasq's leases for names and addresses; and it checks each address
// against the devices it is given. What it lists: stations on the shared
// password, stations in a segment's VLAN that no device of the household
// is (a device's credential used by another), wired devices, and the
// household's devices seen on a segment that is not theirs.
//
// It scans periodically; a device must be seen by two scans in a row to be
// listed (a station in the middle of onboarding is not yet in the
// registry), and leaves the list as soon as a scan no longer sees it or
// sees it as one of the household's devices. A device newly listed is
// reported once a day at most, so a device that comes and goes does not
// flood the household with news.
package inventory
