package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
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

func mudError(err error) error {
	for _, m := range []struct{ from, to error }{
		{mudpolicy.ErrInvalid, api.ErrInvalid},
		{mudpolicy.ErrConflict, api.ErrConflict},
	} {
		if errors.Is(err, m.from) {
			return fmt.Errorf("%w: %s", m.to, strings.TrimPrefix(err.Error(), m.from.Error()+": "))
		}
	}
	return apiError(err)
}

// SetMUD implements api.Service.
func (s *Service) SetMUD(_ context.Context, id string, r api.MUDRequest) (api.Device, error) {
	if s.mud == nil {
		return api.Device{}, fmt.Errorf("%w: MUD is disabled in the configuration (mud.enabled)", api.ErrUnavailable)
	}
	source := r.Source
	switch source {
	case "":
		source = "user"
	case "user", "dhcp":
	default:
		return api.Device{}, fmt.Errorf("%w: source %q is not user or dhcp", api.ErrInvalid, r.Source)
	}
	d, err := s.mud.SetURL(id, r.URL, source)
	if err != nil {
		return api.Device{}, mudError(err)
	}
	return s.device(d), nil
}

// ApproveMUD implements api.Service.
func (s *Service) ApproveMUD(ctx context.Context, id string) (api.Device, error) {
	if s.mud == nil {
		return api.Device{}, fmt.Errorf("%w: MUD is disabled in the configuration (mud.enabled)", api.ErrUnavailable)
	}
	d, err := s.mud.Approve(ctx, id)
	if err != nil {
		return api.Device{}, mudError(err)
	}
	return s.device(d), nil
}
