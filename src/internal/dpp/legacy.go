package dpp

import (
	"context"

	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/fault"
)

// Issued is a passphrase of a device's own on an access point, for a
// device without Wi-Fi Easy Connect, and the network it opens.
type Issued struct {
	Ifname, SSID string
	Passphrase   credential.Passphrase
}

// IssuePassphrase writes a fresh passphrase as the line keyID (with its
// VLAN) on the first access point that is up, and has hostapd read it. The
// access point need not have DPP, but the passphrase works only where
// WPA2-PSK is offered (wpa_psk_file has no SAE). It is returned this once
// and kept nowhere but the PSK file.
//
// With no access point up, those being reconnected to are waited for, as
// for an onboarding (see pick).
func (e *Engine) IssuePassphrase(ctx context.Context, keyID string, vlan int) (Issued, error) {
	b := e.firstUp()
	for _, d := range e.detached("") {
		if b != nil {
			break
		}
		if e.waitUp(ctx, d) {
			b = e.firstUp()
		}
	}
	if b == nil {
		return Issued{}, fault.New(fault.Unavailable, "no access point is up (is hostapd running?)")
	}
	pass, err := credential.NewPassphrase()
	if err != nil {
		return Issued{}, err
	}
	if err := b.psk.Set(keyID, vlan, pass); err != nil {
		return Issued{}, err
	}
	if _, err := reloadPSK(ctx, b.ctrl, b); err != nil {
		// hostapd re-reads the file when it comes back.
		e.log.Warn("hostapd did not reload PSKs after issuing a passphrase", "iface", b.ifname, "err", err)
	}
	b.mu.Lock()
	ssid := b.ssid
	b.mu.Unlock()
	return Issued{Ifname: b.ifname, SSID: ssid, Passphrase: pass}, nil
}

// firstUp is the first attached access point, or nil.
func (e *Engine) firstUp() *bss {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.order {
		c := e.bss[n]
		c.mu.Lock()
		up := c.attached
		c.mu.Unlock()
		if up {
			return c
		}
	}
	return nil
}
