package dpp

import (
	"context"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/hostapd"
)

// each runs fn on every access point.
func (e *Engine) each(fn func(b *bss)) {
	e.mu.Lock()
	bs := make([]*bss, 0, len(e.order))
	for _, n := range e.order {
		bs = append(bs, e.bss[n])
	}
	e.mu.Unlock()
	for _, b := range bs {
		fn(b)
	}
}

// Forget drops what hostapd holds for a device that is gone: its
// pre-authorised bootstrap entry, so it is no longer answered when it
// announces itself.
func (e *Engine) Forget(ctx context.Context, deviceID string) {
	e.each(func(b *bss) {
		b.mu.Lock()
		peer, ok := b.chirp[deviceID]
		delete(b.chirp, deviceID)
		b.mu.Unlock()
		if ok {
			b.ctrl.Command(ctx, "DPP_BOOTSTRAP_REMOVE "+peer)
		}
	})
}

// Arm listens for pre-authorised devices on every access point, after the
// list changed.
func (e *Engine) Arm(ctx context.Context) {
	e.each(func(b *bss) {
		if err := e.armChirps(ctx, b, nil); err != nil {
			e.log.Warn("failed to listen for pre-authorised devices", "iface", b.ifname, "err", err)
		}
	})
}

func (b *bss) chirpPeer(devID string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.chirp[devID]
	return p, ok
}

// armChirps tells hostapd about every pre-authorised device not yet
// onboarded, with its configuration ready (DPP_BOOTSTRAP_SET), and listens
// on the operating channel for their presence announcements.
//
// c is the connection to use, or nil for the access point's usual one (it
// differs while a reconnection is being set up).
func (e *Engine) armChirps(ctx context.Context, b *bss, c Ctrl) error {
	if c == nil {
		c = b.ctrl
	}
	b.mu.Lock()
	cfg, ssid, freq, ok := b.configurator, b.ssid, b.freq, b.attached && b.dpp.Supported && !noPSK(b.keyMgmt)
	b.mu.Unlock()
	if !ok || cfg == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// First the PSK file, written once however many devices an ISP
	// pushed; then hostapd.
	chirps, err := e.o.Devices.Chirps()
	if err != nil {
		return err
	}
	if len(chirps) == 0 {
		return nil
	}
	passes, err := b.psk.Passphrases()
	if err != nil {
		return err
	}
	entries := make([]credential.Entry, 0, len(chirps))
	for _, ch := range chirps {
		pass, have := passes[ch.KeyID]
		// A PSK written under conf=sta-psk cannot configure a device for
		// SAE: this device has not joined yet, so it gets a new passphrase.
		if !have || pass.IsPSK() && e.o.Conf != "sta-psk" {
			if pass, err = credential.NewPassphrase(); err != nil {
				return err
			}
		}
		entries = append(entries, credential.Entry{KeyID: ch.KeyID, VLAN: ch.VLAN, Pass: pass})
	}
	if e.derive(b, ssid) {
		// One PBKDF2 per new device, once, instead of hostapd's on every
		// reload; spread over the CPUs, as a bulk import brings many.
		var wg sync.WaitGroup
		next := make(chan int)
		for range runtime.NumCPU() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					entries[i].Pass = entries[i].Pass.PSK([]byte(ssid))
				}
			}()
		}
		for i := range entries {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	if err := b.psk.SetMany(entries); err != nil {
		return err
	}
	armed := 0
	for i, ch := range chirps {
		if _, ok := b.chirpPeer(ch.DeviceID); !ok {
			cmd, err := hostapd.QRCode(ch.URI)
			if err != nil {
				e.log.Warn("a pre-authorised device's code cannot be handed to hostapd", "device", ch.DeviceID, "err", err)
				continue
			}
			peer, err := c.Command(ctx, cmd)
			if err != nil {
				e.log.Warn("hostapd refused a pre-authorised device's code", "device", ch.DeviceID, "err", err)
				continue
			}
			params := fmt.Sprintf("conf=%s ssid=%s %s configurator=%s", e.o.Conf, hex.EncodeToString([]byte(ssid)), entries[i].Pass.DPPParam(), cfg)
			if _, err := c.Command(ctx, "DPP_BOOTSTRAP_SET "+peer+" "+params); err != nil {
				e.log.Warn("failed to prepare a pre-authorised device", "device", ch.DeviceID, "err", err)
				continue
			}
			b.mu.Lock()
			b.chirp[ch.DeviceID] = peer
			b.mu.Unlock()
		}
		armed++
	}
	if armed == 0 {
		return nil
	}
	reloadPSK(ctx, c, b)
	if _, err := c.Command(ctx, "DPP_LISTEN "+strconv.Itoa(freq)); err != nil {
		return fmt.Errorf("failed to listen for pre-authorised devices: %w", err)
	}
	e.log.Info("listening for pre-authorised devices", "iface", b.ifname, "devices", armed)
	return nil
}
