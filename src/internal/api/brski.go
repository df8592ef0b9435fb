package api

import "time"

// BRSKIStatus is where the BRSKI join proxy stands (GET /v1/brski). It
// holds no secret: the stateless proxy's key is never shown.
type BRSKIStatus struct {
	// Enabled is false when the join proxy is off (brski.enabled '0').
	Enabled   bool           `json:"enabled"`
	Registrar BRSKIRegistrar `json:"registrar"`
	// Listeners are the addresses pledges connect to; Problems say why
	// an interface has none.
	Listeners []string      `json:"listeners"`
	Problems  []string      `json:"problems"`
	Counters  BRSKICounters `json:"counters"`
	// Pledges are the pledge connections in flight.
	Pledges   []BRSKIPledge   `json:"pledges"`
	Stateless *BRSKIStateless `json:"stateless,omitempty"`
}

// BRSKIRegistrar is where pledges are relayed to and how it was found.
type BRSKIRegistrar struct {
	Host    string `json:"host"`
	Port    int    `json:"port"`
	Address string `json:"address"`
	// Source is "config" (registrar_host), "grasp" or "mdns" (found).
	Source string `json:"source"`
	Error  string `json:"error"`
}

// BRSKICounters are the circuit proxy's totals since it started.
type BRSKICounters struct {
	Accepted          uint64 `json:"accepted"`
	Active            int    `json:"active"`
	RefusedTotal      uint64 `json:"refused_total"`
	RefusedPerSource  uint64 `json:"refused_per_source"`
	RegistrarFailures uint64 `json:"registrar_failures"`
	IdleClosed        uint64 `json:"idle_closed"`
	TotalTimeouts     uint64 `json:"total_timeouts"`
	Announcements     uint64 `json:"announcements"`
	GRASPIgnored      uint64 `json:"grasp_ignored"`
	BytesToRegistrar  uint64 `json:"bytes_to_registrar"`
	BytesToPledge     uint64 `json:"bytes_to_pledge"`
}

// BRSKIPledge is one pledge connection in flight.
type BRSKIPledge struct {
	Source           string    `json:"source"`
	Interface        string    `json:"interface"`
	Since            time.Time `json:"since"`
	BytesToRegistrar uint64    `json:"bytes_to_registrar"`
	BytesToPledge    uint64    `json:"bytes_to_pledge"`
}

// BRSKIStateless is the constrained (CoAP/DTLS) stateless proxy's state.
type BRSKIStateless struct {
	Listeners   []string `json:"listeners"`
	Problems    []string `json:"problems"`
	Registrar   string   `json:"registrar"`
	ToRegistrar uint64   `json:"to_registrar"`
	ToPledge    uint64   `json:"to_pledge"`
	// Discoveries counts CoAP discovery requests answered.
	Discoveries      uint64 `json:"discoveries"`
	DroppedSource    uint64 `json:"dropped_source"`
	DroppedMalformed uint64 `json:"dropped_malformed"`
	DroppedHeader    uint64 `json:"dropped_header"`
	DroppedOther     uint64 `json:"dropped_other"`
}
