package dpp

import (
	"context"

	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// Legacy is what a device without Wi-Fi Easy Connect needs to join: the
// network's name and a passphrase of its own.
type Legacy struct {
	Device     registry.Device
	SSID       string
	Passphrase credential.Passphrase
}

// IssuePassphrase is the less safe path for a device without DPP: it gets
// its own passphrase (its own line in the PSK file, so its own key id and
// segment, and it can be removed alone), which the householder types or
// scans into it. The passphrase is returned this once and kept nowhere but
// the PSK file. The access point need not have DPP, but the passphrase
// works only where WPA2-PSK is offered (wpa_psk_file has no SAE).
func (e *Engine) IssuePassphrase(ctx context.Context, name, segment string) (Legacy, error) {
	if segment == "" {
		segment = e.o.DefaultSegment
	}
	vlan, ok := e.o.VLAN(segment)
	if !ok {
		return Legacy{}, fault.New(fault.Invalid, "no segment %q", segment)
	}
	var b *bss
	e.mu.Lock()
	for _, n := range e.order {
		c := e.bss[n]
		c.mu.Lock()
		up := c.attached
		c.mu.Unlock()
		if up {
			b = c
			break
		}
	}
	e.mu.Unlock()
	if b == nil {
		return Legacy{}, fault.New(fault.Unavailable, "no access point is up (is hostapd running?)")
	}
	pass, err := credential.NewPassphrase()
	if err != nil {
		return Legacy{}, err
	}
	if name == "" {
		name = "Device"
	}
	now := e.o.Now()
	d := registry.Device{
		ID: credential.RandomID("d-"), Name: e.o.Registry.UniqueName(name), Segment: segment,
		Ifname: b.ifname, State: registry.StateOnboarded, CredentialCreated: now,
	}
	d.KeyID = d.ID
	d.Record(now, "given its own passphrase (legacy path, no Wi-Fi Easy Connect) on "+b.ifname)
	if err := b.psk.Set(d.KeyID, vlan, pass); err != nil {
		return Legacy{}, err
	}
	if err := e.o.Registry.Put(d); err != nil {
		b.psk.Remove(d.KeyID)
		return Legacy{}, err
	}
	if _, err := reloadPSK(ctx, b.ctrl); err != nil {
		// hostapd re-reads the file when it comes back.
		e.log.Warn("hostapd did not reload PSKs after issuing a passphrase", "iface", b.ifname, "err", err)
	}
	b.mu.Lock()
	ssid := b.ssid
	b.mu.Unlock()
	e.log.Info("device given its own passphrase (legacy path)", "device", d.ID, "iface", b.ifname, "segment", segment)
	return Legacy{Device: d, SSID: ssid, Passphrase: pass}, nil
}
