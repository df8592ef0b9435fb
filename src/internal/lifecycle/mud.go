package lifecycle

import (
	"context"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/device"
	"github.com/trustjoin/trustjoin/src/internal/fault"
)

// source checks where the API says a MUD URL comes from.
func source(s string) (device.Source, error) {
	switch s {
	case "", "user":
		return device.FromUser, nil
	case "dhcp":
		return device.FromDHCP, nil
	}
	return "", fault.New(fault.Invalid, "source %q is not user or dhcp", s)
}

// SetMUD implements api.Service.
func (s *Service) SetMUD(ctx context.Context, id string, r api.MUDRequest) (api.Device, error) {
	src, err := source(r.Source)
	if err != nil {
		return api.Device{}, err
	}
	d, err := s.devices.SetMUDURL(ctx, id, r.URL, src)
	if err != nil {
		return api.Device{}, err
	}
	return s.device(d, s.devices.InForce(d.ID)), nil
}

// SetMUDByMAC implements api.Service.
func (s *Service) SetMUDByMAC(ctx context.Context, mac string, r api.MUDRequest) (api.Device, error) {
	src, err := source(r.Source)
	if err != nil {
		return api.Device{}, err
	}
	d, err := s.devices.SetMUDURLByMAC(ctx, mac, r.URL, src)
	if err != nil {
		return api.Device{}, err
	}
	return s.device(d, s.devices.InForce(d.ID)), nil
}

// ApproveMUD implements api.Service.
func (s *Service) ApproveMUD(ctx context.Context, id string) (api.Device, error) {
	d, err := s.devices.ApproveMUD(ctx, id, device.Householder)
	if err != nil {
		return api.Device{}, err
	}
	return s.device(d, s.devices.InForce(d.ID)), nil
}
