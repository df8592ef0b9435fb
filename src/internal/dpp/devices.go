package dpp

import (
	"context"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/registry"
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

// Remove withdraws a device's credential so it can no longer connect: its
// line leaves every PSK file, hostapd reloads them, and the station is
// deauthenticated and its cached keys flushed (DEAUTHENTICATE alone keeps
// the PMKSA, which would let it resume).
func (e *Engine) Remove(ctx context.Context, id string) (registry.Device, error) {
	d, err := e.o.Registry.Get(id)
	if err != nil {
		return registry.Device{}, err
	}
	var errs []string
	e.each(func(b *bss) {
		if err := b.psk.Remove(d.KeyID); err != nil {
			errs = append(errs, err.Error())
			return
		}
		if _, err := reloadPSK(ctx, b.ctrl); err != nil {
			// hostapd re-reads the file when it comes back.
			e.log.Warn("hostapd did not reload PSKs after a removal", "iface", b.ifname, "err", err)
		}
		for _, m := range d.MACs {
			b.ctrl.Command(ctx, "DEAUTHENTICATE "+m)
		}
		b.ctrl.Command(ctx, "PMKSA_FLUSH")
		if peer, ok := b.chirpPeer(d.ID); ok {
			b.ctrl.Command(ctx, "DPP_BOOTSTRAP_REMOVE "+peer)
		}
	})
	if len(errs) > 0 {
		return registry.Device{}, fmt.Errorf("failed to withdraw the credential: %s", strings.Join(errs, "; "))
	}
	if d.KeyHash != "" {
		e.o.Registry.RemovePreauth(d.KeyHash)
	}
	now := e.o.Now()
	out, err := e.o.Registry.Update(d.ID, func(d *registry.Device) error {
		d.State = registry.StateRemoved
		d.Record(now, "removed: credential withdrawn")
		return nil
	})
	if err == nil {
		e.log.Info("device removed, its credential withdrawn", "device", d.ID)
	}
	return out, err
}

// Move puts a device in another segment: its credential line gets the new
// VLAN and the device is made to reconnect into it.
func (e *Engine) Move(ctx context.Context, id, segment string, quarantined bool) (registry.Device, error) {
	vlan, ok := e.o.VLAN(segment)
	if !ok {
		return registry.Device{}, fault.New(fault.Invalid, "no segment %q", segment)
	}
	d, err := e.o.Registry.Get(id)
	if err != nil {
		return registry.Device{}, err
	}
	var errs []string
	e.each(func(b *bss) {
		pass, ok, err := b.psk.Lookup(d.KeyID)
		if err != nil || !ok {
			return
		}
		if err := b.psk.Set(d.KeyID, vlan, pass); err != nil {
			errs = append(errs, err.Error())
			return
		}
		reloadPSK(ctx, b.ctrl)
		// The VLAN is chosen at association: reconnect to change it.
		for _, m := range d.MACs {
			b.ctrl.Command(ctx, "DEAUTHENTICATE "+m)
		}
	})
	if len(errs) > 0 {
		return registry.Device{}, fmt.Errorf("failed to move the device: %s", strings.Join(errs, "; "))
	}
	now := e.o.Now()
	return e.o.Registry.Update(d.ID, func(d *registry.Device) error {
		d.Segment = segment
		d.Quarantined = quarantined
		what := "moved to segment " + segment
		if quarantined {
			what = "quarantined"
		}
		d.Record(now, what)
		return nil
	})
}

// Rotate gives a device a fresh credential where it can take one without
// being scanned again. Devices configured for PSK cannot be reconfigured
// over DPP (reconfiguration needs the DPP AKM), so they are marked as
// needing re-onboarding: their current credential keeps working until the
// householder scans them again, which replaces it.
func (e *Engine) Rotate(ctx context.Context, id string) (registry.Device, error) {
	now := e.o.Now()
	return e.o.Registry.Update(id, func(d *registry.Device) error {
		d.State = registry.StateNeedsReonboarding
		d.Record(now, "credential rotation requested: scan the device again to give it a fresh credential")
		return nil
	})
}

// Preauthorize records devices by their bootstrapping URIs so they onboard
// with no touch when they announce themselves (chirp). Every URI is
// checked; bad ones are reported by index and the good ones kept.
func (e *Engine) Preauthorize(entries []PreauthEntry) (added []registry.Preauth, errs map[int]error) {
	errs = map[int]error{}
	now := e.o.Now()
	for i, en := range entries {
		u, err := ParseURI(en.URI)
		if err != nil {
			errs[i] = fault.New(fault.Invalid, "%v", err)
			continue
		}
		seg := en.Segment
		if seg == "" {
			seg = e.o.DefaultSegment
		}
		if _, ok := e.o.VLAN(seg); !ok {
			errs[i] = fault.New(fault.Invalid, "no segment %q", seg)
			continue
		}
		by := en.AddedBy
		if by == "" {
			by = "user"
		}
		added = append(added, registry.Preauth{
			ID: credential.RandomID("p-"), Name: en.Name, URI: u.Raw, KeyHash: u.KeyHash,
			Segment: seg, AddedBy: by, AddedAt: now,
		})
	}
	if len(added) == 0 {
		return nil, errs
	}
	if err := e.o.Registry.AddPreauths(added); err != nil {
		for i := range entries {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return nil, errs
	}
	e.each(func(b *bss) { e.armChirps(context.Background(), b, nil) })
	return added, errs
}

// PreauthEntry is one device to pre-authorise.
type PreauthEntry struct {
	URI, Segment, Name, AddedBy string
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
	cfg, ssid, freq, ok := b.configurator, b.ssid, b.freq, b.attached && b.dpp.Supported
	b.mu.Unlock()
	if !ok || cfg == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// First the registry and the PSK file, each written once, however many
	// devices an ISP pushed; then hostapd.
	passes, err := b.psk.Passphrases()
	if err != nil {
		return err
	}
	var (
		devs    []registry.Device
		entries []credential.Entry
		uris    []string
	)
	for _, p := range e.o.Registry.Preauths() {
		d, known := e.o.Registry.ByKeyHash(p.KeyHash)
		if known && (d.State == registry.StateConnected || d.State == registry.StateOnboarded || d.State == registry.StateDisconnected) {
			continue
		}
		if !known || d.State == registry.StateRemoved {
			d = registry.Device{ID: credential.RandomID("d-"), Name: p.Name, KeyHash: p.KeyHash}
			d.KeyID = d.ID
			if d.Name == "" {
				// Unique without a registry-wide search per device, which
				// would make bulk imports quadratic.
				d.Name = "Pre-authorised " + d.ID
			}
		}
		d.Segment, d.State = p.Segment, registry.StatePending
		if len(d.History) == 0 {
			d.Record(e.o.Now(), "pre-authorised by "+p.AddedBy)
		}
		vlan, _ := e.o.VLAN(p.Segment)
		pass, have := passes[d.KeyID]
		// A PSK written under conf=sta-psk cannot configure a device for
		// SAE: this device has not joined yet, so it gets a new passphrase.
		if !have || pass.IsPSK() && e.o.Conf != "sta-psk" {
			if pass, err = credential.NewPassphrase(); err != nil {
				return err
			}
		}
		devs = append(devs, d)
		entries = append(entries, credential.Entry{KeyID: d.KeyID, VLAN: vlan, Pass: pass})
		uris = append(uris, p.URI)
	}
	if len(devs) == 0 {
		return nil
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
	if err := e.o.Registry.PutMany(devs); err != nil {
		return err
	}
	if err := b.psk.SetMany(entries); err != nil {
		return err
	}
	armed := 0
	for i, d := range devs {
		if _, ok := b.chirpPeer(d.ID); !ok {
			peer, err := c.Command(ctx, "DPP_QR_CODE "+uris[i])
			if err != nil {
				e.log.Warn("hostapd refused a pre-authorised device's code", "device", d.ID, "err", err)
				continue
			}
			params := fmt.Sprintf("conf=%s ssid=%s %s configurator=%s", e.o.Conf, hex.EncodeToString([]byte(ssid)), entries[i].Pass.DPPParam(), cfg)
			if _, err := c.Command(ctx, "DPP_BOOTSTRAP_SET "+peer+" "+params); err != nil {
				e.log.Warn("failed to prepare a pre-authorised device", "device", d.ID, "err", err)
				continue
			}
			b.mu.Lock()
			b.chirp[d.ID] = peer
			b.mu.Unlock()
		}
		armed++
	}
	if armed == 0 {
		return nil
	}
	reloadPSK(ctx, c)
	if _, err := c.Command(ctx, "DPP_LISTEN "+strconv.Itoa(freq)); err != nil {
		return fmt.Errorf("failed to listen for pre-authorised devices: %w", err)
	}
	e.log.Info("listening for pre-authorised devices", "iface", b.ifname, "devices", armed)
	return nil
}
