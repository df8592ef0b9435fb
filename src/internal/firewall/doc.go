// Package firewall confines each device to its lane with nftables.
//
// Every packet is first judged by its segment, found from the interface it
// arrives on (a VLAN interface or bridge): internet or not, which other
// segments it may open connections to, whether devices inside it may talk
// to each other, or, for a quarantine segment, DHCP and DNS on the router
// only. So a device is confined from its first packet, before its MAC is
// known. On top of that, a device's verified MUD policy (package mud) is
// compiled into chains of its own, reached through verdict maps keyed by
// MAC (traffic from it, and bridged traffic to it) and by address
// (routed traffic to it; the kernel learns a device's addresses from its
// packets and Run mirrors them into the maps): the cost per packet does
// not grow with the number of devices. Local DNS, DHCP and NTP stay
// allowed, as RFC 8520 says; everything else from a MUD-governed device
// is dropped and counted.
//
// Flows are judged once: the base chains accept established and related
// packets first, and whatever changes a device's confinement deletes its
// flows from conntrack, so they are judged again on their next packet.
// Changes only add to the kernel's state: a device's maps jump to entry
// chains of its own, whose first rule is a goto to its current slot
// chains, so a new policy is a fresh slot and one rule at the head of each
// entry chain. Deleting anything costs the kernel an RCU grace period, so
// what changes leave behind (old slots, old gotos, group memberships)
// waits until changes pause, and Run deletes it in one batch. Every jump
// added makes the kernel check each chain its base chains can reach, so
// those chains hold as little as possible: what is every device's (ARP,
// neighbour discovery, DHCP, DNS) is allowed once in the base chains, and
// what a device sends the router has chains of its own holding only what
// can reach the router.
//
// trustjoin owns two tables, never fw4's: inet (routed traffic and the
// router itself) and bridge (traffic between devices on one bridge, which
// the inet hooks never see), with base chains before fw4's (a negative
// priority) so flow offloading cannot bypass them. Each change is one
// netlink batch, applied whole or not at all. Run puts the tables back
// when fw4 flush or anyone else deletes or flushes them, keeps the sets of
// DNS names fresh (each address lives for its answer's TTL), and deletes
// the tables a previous run left, which keep confining devices while a
// restarted daemon restores them. The package knows config segments and
// MUD policies, nothing of hostapd, DPP or HTTP.
//
// For package behaviour, the tables log to NFLOG (Options.LogGroup),
// each rule at a bounded rate: a device's own packets its chains drop,
// and what a segment forbids its devices (unicast only: mDNS or SSDP to
// every neighbour is no attempt; never what others send a device, or
// anyone could have it quarantined), headers only, prefixed "tj-drop"
// and the device's id where its chains know it; the first packet of
// each connection of the devices being learned (LogConnections), in the
// inet table, which has conntrack; and, in an output chain, the router's
// DNS answers to devices, whole, to the next group. A kernel without
// nfnetlink_log gets the tables without log rules.
//
// It is built in two parts. The planner runs anywhere and touches no
// kernel: a state (state.go) says what trustjoin's tables hold, and each
// change (segments, the join confinement, a device's policy, quarantine,
// removal, learned addresses, cleaning up) is planned from it as a batch
// of operations on the tables (plan_*.go; compile.go turns MUD entries
// into rules), with a commit that records the change. Rules are a small
// model (model.go) which the applier turns into netlink expressions
// (expr_linux.go) and nft.go into nft syntax, so what trustjoin installs
// and what it shows (Render and Explain, for `trustjoin mud check`; Rules,
// for `trustjoin mud show`) cannot differ. The Enforcer (enforcer_linux.go)
// plans, has the kernel take each batch whole (apply_linux.go, which
// decides nothing) and commits only then, so a refused batch leaves both
// as they were. CheckNarrow checks the compiler against each entry, for
// the MUD parser's property tests.
package firewall
