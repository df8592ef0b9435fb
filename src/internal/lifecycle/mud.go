package lifecycle

import (
	"context"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// MUD is what the household's view needs from the MUD manager.
type MUD interface {
	SetURL(id, url, source string) (registry.Device, error)
	Approve(ctx context.Context, id string) (registry.Device, error)
}

// UseMUD hands the Service the MUD manager; without one, MUD calls answer
// that MUD is off.
func (s *Service) UseMUD(m MUD) { s.mud = m }

// SetMUD implements api.Service.
func (s *Service) SetMUD(_ context.Context, id string, r api.MUDRequest) (api.Device, error) {
	if s.mud == nil {
		return api.Device{}, fault.New(fault.Unavailable, "MUD is disabled in the configuration (mud.enabled)")
	}
	source := r.Source
	switch source {
	case "":
		source = "user"
	case "user", "dhcp":
	default:
		return api.Device{}, fault.New(fault.Invalid, "source %q is not user or dhcp", r.Source)
	}
	d, err := s.mud.SetURL(id, r.URL, source)
	if err != nil {
		return api.Device{}, err
	}
	return s.device(d), nil
}

// ApproveMUD implements api.Service.
func (s *Service) ApproveMUD(ctx context.Context, id string) (api.Device, error) {
	if s.mud == nil {
		return api.Device{}, fault.New(fault.Unavailable, "MUD is disabled in the configuration (mud.enabled)")
	}
	d, err := s.mud.Approve(ctx, id)
	if err != nil {
		return api.Device{}, err
	}
	return s.device(d), nil
}
