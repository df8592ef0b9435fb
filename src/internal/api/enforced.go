package api

import "github.com/trustjoin/trustjoin/src/internal/httpd"

// Enforced is what is enforced for one device (`trustjoin mud show`): its
// standing (segment, quarantine, MUD policy and its status) and the
// nftables rules the firewall made for it, with their counters.
type Enforced struct {
	Device Device `json:"device"`
	// InFirewall: the firewall holds chains for the device; Rules and
	// Counters are there. Otherwise Reason says why not (the firewall is
	// off, the device has no MAC address yet, ...).
	InFirewall bool   `json:"in_firewall"`
	Reason     string `json:"reason,omitempty"`
	// Rules are the device's own chains in both of trustjoin's tables,
	// as they are in force, and its counters with their values, in nft
	// syntax as `nft list table` prints them.
	Rules    string          `json:"rules"`
	Counters *PolicyCounters `json:"counters,omitempty"`
}

// PolicyCounters are what the firewall judged for a device: packets its
// confinement accepted (those opening flows, and bridged traffic;
// established flows are not looked at again) and packets it dropped.
// DHCP, DNS and neighbour discovery to the router, allowed for every
// device, are not counted.
type PolicyCounters struct {
	AcceptedPackets uint64 `json:"accepted_packets"`
	AcceptedBytes   uint64 `json:"accepted_bytes"`
	DroppedPackets  uint64 `json:"dropped_packets"`
	DroppedBytes    uint64 `json:"dropped_bytes"`
}

func (h *handler) enforcedRoutes(mux *httpd.ServeMux) {
	mux.HandleFunc("GET /v1/devices/{id}/enforced", h.wrap(func(r *httpd.Request) (any, error) {
		return h.s.Enforced(r.Context(), r.PathValue("id"))
	}))
}
