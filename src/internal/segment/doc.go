// Package segment plumbs the network side of segments where hostapd and
// netifd do not: it makes sure each segment's bridge exists and is up,
// and, for a VLAN segment, that the VLAN interface on the uplink exists
// and is a port of that bridge. It uses rtnetlink, looks at everything
// before changing anything, changes nothing that is already right (so it
// can run on every start and reload) and reports what it created. It never
// deletes: a bridge or VLAN interface no longer asked for stays until
// netifd or the user removes it.
package segment
