package brski

import "github.com/trustjoin/trustjoin/src/internal/api"

// APIStatus returns what the API shows of the circuit proxy p and the
// stateless proxy s (nil when off).
func APIStatus(p *Proxy, s *Stateless) api.BRSKIStatus {
	st := p.Status()
	out := api.BRSKIStatus{
		Enabled:   true,
		Registrar: api.BRSKIRegistrar(st.Registrar),
		Listeners: st.Listeners,
		Problems:  st.Problems,
		Counters:  api.BRSKICounters(st.Counters),
		Pledges:   []api.BRSKIPledge{},
	}
	for _, pl := range st.Pledges {
		out.Pledges = append(out.Pledges, api.BRSKIPledge(pl))
	}
	if s != nil {
		ss := s.Status()
		c := ss.Counters
		out.Stateless = &api.BRSKIStateless{
			Listeners: ss.Listeners, Problems: ss.Problems, Registrar: ss.Registrar,
			ToRegistrar: c.ToRegistrar, ToPledge: c.ToPledge, Discoveries: c.Discoveries, DroppedSource: c.DroppedSource,
			DroppedMalformed: c.DroppedMalformed, DroppedHeader: c.DroppedHeader, DroppedOther: c.DroppedOther,
		}
	}
	return out
}
