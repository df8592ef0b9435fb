// Package behaviour records what each device does on the network as its
// firewall sees it (NIST SP 1800-36 S4.C5): what its policy dropped, by
// destination and port, and the connections it opened, with the DNS name
// the device looked each address up by. It keeps a small rolling history
// per device in RAM (never on flash), and watches it: when a device keeps
// trying destinations its MUD file or segment forbids, many distinct ones
// within a window, it tells its owner, who notifies or quarantines it by
// the segment's watch policy (S4.C6).
//
// The feed is NFLOG: the firewall (package firewall) logs a device's
// dropped packets and the first packet of each connection of a device
// being learned to one netlink log group, and the router's DNS answers
// to devices to the next, each with a prefix saying which, at a bounded
// rate; the kernel copies only the headers (the whole packet for DNS
// answers) and batches them. Feed reads a group and hands each packet to
// the Recorder; the daemon runs one Feed per group.
package behaviour
