// Package firewall confines each device to its lane with nftables: its
// segment's policy (internet or not, which segments it may reach, whether
// devices inside it may talk to each other) from the first packet, by the
// interface it arrives on, and on top of that its MUD policy once one is
// verified, compiled into per-device chains reached through MAC-keyed
// verdict maps so the cost per packet does not grow with the number of
// devices. It owns two tables of its own (inet for routed traffic, bridge
// for traffic between devices on one bridge), hooked before fw4, restores
// them when fw4 or anyone else deletes them, and keeps the sets of DNS
// names a policy mentions filled from the resolver, following the TTL.
// It knows config segments and MUD policies, nothing of hostapd or HTTP.
package firewall
