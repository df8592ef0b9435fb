package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/alert"
	"github.com/trustjoin/trustjoin/src/internal/firewall"
	"github.com/trustjoin/trustjoin/src/internal/fsutil"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// What the household can do about a device nobody onboarded, short of
// onboarding it properly (which makes it one of the household's devices
// and takes it off the list).
const (
	// Block: it reaches DHCP and DNS on the router and nothing else, and
	// the access points refuse it (a station is disconnected).
	Block = "block"
	// Guest: it reaches the internet and nothing local, as a guest would.
	Guest = "guest"
)

// Handled is an unknown device the household acted on. It is kept on
// flash: a blocked device stays blocked across restarts.
type Handled struct {
	MAC    string    `json:"mac"`
	Action string    `json:"action"`
	At     time.Time `json:"at"`
}

// Firewall confines the MACs of devices the household does not have; the
// device owner confines its own.
type Firewall interface {
	Apply(ctx context.Context, d firewall.Device) error
	Remove(ctx context.Context, id string) error
}

// Radios refuse a station on every access point, or stop refusing it.
type Radios interface {
	Deny(ctx context.Context, mac string) error
	Undeny(ctx context.Context, mac string) error
}

// firewallID names an unknown device in the firewall, apart from the
// household's devices ("d-…").
func firewallID(mac net.HardwareAddr) string {
	return "u-" + strings.ReplaceAll(mac.String(), ":", "")
}

// guestPolicy confines a device to the internet: nothing local, nothing
// in (as a MUD policy, enforced like any).
func guestPolicy() *mud.Policy {
	p := &mud.Policy{URL: "https://trustjoin.invalid/unknown-as-guest"}
	for _, v := range []int{4, 6} {
		p.FromDevice = append(p.FromDevice,
			mud.Rule{ACL: "guest", ACE: "no-local", Family: v, Protocol: -1, Peer: mud.PeerLocalNetworks},
			mud.Rule{ACL: "guest", ACE: "internet", Family: v, Protocol: -1, Accept: true})
	}
	return p
}

func (h Handled) device() (firewall.Device, error) {
	mac, err := net.ParseMAC(h.MAC)
	if err != nil || len(mac) != 6 {
		return firewall.Device{}, fmt.Errorf("%q is not a MAC address", h.MAC)
	}
	d := firewall.Device{ID: firewallID(mac), MACs: []net.HardwareAddr{mac}}
	switch h.Action {
	case Block:
		d.Quarantined = true
	case Guest:
		d.Policy = guestPolicy()
	default:
		return firewall.Device{}, fmt.Errorf("unknown action %q", h.Action)
	}
	return d, nil
}

func (w *Watch) handledPath() string { return w.o.HandledFile }

func (w *Watch) loadHandled() ([]Handled, error) {
	if w.handledPath() == "" {
		return nil, nil
	}
	b, err := os.ReadFile(w.handledPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var hs []Handled
	if err := json.Unmarshal(b, &hs); err != nil {
		return nil, fmt.Errorf("%s: %v", w.handledPath(), err)
	}
	return hs, nil
}

func (w *Watch) saveHandled(hs []Handled) error {
	if w.handledPath() == "" {
		return nil
	}
	b, err := json.MarshalIndent(hs, "", "  ")
	if err != nil {
		return err
	}
	_, err = fsutil.WriteFile(w.handledPath(), b, 0o600)
	return err
}

// RestoreHandled confines again what the household acted on, at start.
func (w *Watch) RestoreHandled(ctx context.Context) error {
	hs, err := w.loadHandled()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hs {
		if err := w.enforce(ctx, h); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (w *Watch) enforce(ctx context.Context, h Handled) error {
	d, err := h.device()
	if err != nil {
		return err
	}
	if w.o.Firewall != nil {
		if err := w.o.Firewall.Apply(ctx, d); err != nil {
			return fmt.Errorf("failed to confine %s: %v", h.MAC, err)
		}
	}
	if w.o.Radios != nil {
		deny := w.o.Radios.Deny
		if h.Action != Block {
			deny = w.o.Radios.Undeny
		}
		if err := deny(ctx, h.MAC); err != nil {
			return fmt.Errorf("failed to tell the access points about %s: %v", h.MAC, err)
		}
	}
	return nil
}

// Handle blocks an unknown device or confines it as a guest (action), or
// with action "" undoes that.
func (w *Watch) Handle(ctx context.Context, macText, action string) (Handled, error) {
	mac, err := net.ParseMAC(macText)
	if err != nil || len(mac) != 6 {
		return Handled{}, fmt.Errorf("%q is not a MAC address", macText)
	}
	switch action {
	case Block, Guest, "":
	default:
		return Handled{}, fmt.Errorf("unknown action %q (want block or guest)", action)
	}
	if d, ok := w.devicesByMAC()[string(mac)]; ok {
		return Handled{}, fmt.Errorf("%s is %s, one of the household's devices: quarantine, move or remove it instead", mac, d.Name)
	}
	w.handleMu.Lock()
	defer w.handleMu.Unlock()
	hs, err := w.loadHandled()
	if err != nil {
		return Handled{}, err
	}
	h := Handled{MAC: mac.String(), Action: action, At: w.o.Now()}
	i := slices.IndexFunc(hs, func(x Handled) bool { return x.MAC == h.MAC })
	switch {
	case action == "" && i < 0:
		return h, nil
	case action == "":
		if w.o.Firewall != nil {
			if err := w.o.Firewall.Remove(ctx, firewallID(mac)); err != nil {
				return Handled{}, fmt.Errorf("failed to free %s: %v", mac, err)
			}
		}
		if w.o.Radios != nil {
			if err := w.o.Radios.Undeny(ctx, h.MAC); err != nil {
				return Handled{}, fmt.Errorf("failed to tell the access points about %s: %v", mac, err)
			}
		}
		hs = slices.Delete(hs, i, i+1)
	default:
		if err := w.enforce(ctx, h); err != nil {
			return Handled{}, err
		}
		if i >= 0 {
			hs[i] = h
		} else {
			hs = append(hs, h)
		}
	}
	if err := w.saveHandled(hs); err != nil {
		return Handled{}, fmt.Errorf("%s is handled, but keeping that on flash failed (it will not survive a restart): %v", mac, err)
	}
	words := map[string]string{Block: "blocked", Guest: "confined as a guest (internet only)", "": "no longer blocked or confined"}[action]
	w.o.Book.Record(alert.Event{Kind: alert.UnknownDevice, MAC: h.MAC, Message: fmt.Sprintf("%s %s by the householder", h.MAC, words)})
	return h, nil
}

// HandledList returns what the household acted on.
func (w *Watch) HandledList() ([]Handled, error) {
	w.handleMu.Lock()
	defer w.handleMu.Unlock()
	return w.loadHandled()
}
