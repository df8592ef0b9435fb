// Package segment plumbs the network side of segments where hostapd and
// netifd do not: it makes sure each segment's bridge exists and is up,
// and, for a VLAN segment, that the VLAN interface on the uplink exists
// and is a port of that bridge. It uses rtnetlink and changes nothing
// that is already right, so it can run on every start and reload.
package segment
