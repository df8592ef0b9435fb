package api

import "github.com/trustjoin/trustjoin/src/internal/brski"

// BRSKIStatus is where the BRSKI join proxy stands (GET /v1/brski): the
// proxies' own status, which package brski defines, and whether they are
// on. It holds no secret: the stateless proxy's key is never shown.
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
	Pledges []BRSKIPledge `json:"pledges"`
	// Stateless is the constrained (CoAP/DTLS) proxy, nil when off.
	Stateless *BRSKIStateless `json:"stateless,omitempty"`
}

// The parts are package brski's types.
type (
	BRSKIRegistrar = brski.Registrar
	BRSKICounters  = brski.Counters
	BRSKIPledge    = brski.Pledge
	BRSKIStateless = brski.StatelessStatus
)

// NewBRSKIStatus is the status of the circuit proxy st and, when on, of
// the stateless proxy.
func NewBRSKIStatus(st brski.Status, stateless *brski.StatelessStatus) BRSKIStatus {
	return BRSKIStatus{
		Enabled: true, Registrar: st.Registrar, Listeners: st.Listeners, Problems: st.Problems,
		Counters: st.Counters, Pledges: st.Pledges, Stateless: stateless,
	}
}
