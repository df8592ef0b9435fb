package lifecycle

import (
	"context"

	"github.com/trustjoin/trustjoin/src/internal/api"
)

// SetBRSKI gives the Service the BRSKI join proxy's status; without it the
// proxy is reported as off.
func (s *Service) SetBRSKI(status func() api.BRSKIStatus) { s.brski = status }

// BRSKI implements api.Service.
func (s *Service) BRSKI(context.Context) (api.BRSKIStatus, error) {
	if s.brski == nil {
		return api.BRSKIStatus{Listeners: []string{}, Problems: []string{}, Pledges: []api.BRSKIPledge{}}, nil
	}
	return s.brski(), nil
}
