package credential

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// A device's lines carry key ids of its own: its id, or, while a second
// credential is on its way to it (re-onboarding), its id, '_' and a
// suffix. So a line tells whose it is without a lookup, and the old
// credential keeps working until the device connects with the new one.

// KeyIDFor returns a key id for device id that is none of taken (the key
// ids its lines have now): the id itself if it is free.
func KeyIDFor(id string, taken ...string) string {
	for _, t := range taken {
		if t == id {
			return RandomID(id + "_")
		}
	}
	return id
}

// DeviceOf returns the device a key id belongs to.
func DeviceOf(keyID string) string {
	id, _, _ := strings.Cut(keyID, "_")
	return id
}

// Lines are one device's lines as they should be: the VLAN of each key id
// that should have a line (0: none; negative: the one it has).
type Lines map[string]int

// Kept says what Keep changed: the key ids whose line it deleted and those
// whose VLAN it changed.
type Kept struct {
	Withdrawn, Moved []string
}

// Keep brings the lines of the devices in want (by device id, see
// DeviceOf) to want: a line whose key id is not in its device's Lines is
// deleted, a line whose VLAN differs gets the wanted one and keeps its
// secret. A key id with no line is left so: a line is made only with its
// secret, by Set. Lines of devices not in want, and lines without a key
// id, stay as they are. One write, none when nothing changed.
func (f *PSKFile) Keep(want map[string]Lines) (Kept, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines, err := f.read()
	if err != nil {
		return Kept{}, err
	}
	var k Kept
	kept := lines[:0]
	for _, l := range lines {
		ls, governed := want[DeviceOf(l.keyID)]
		if l.keyID == "" || !governed {
			kept = append(kept, l)
			continue
		}
		vlan, ok := ls[l.keyID]
		if !ok {
			k.Withdrawn = append(k.Withdrawn, l.keyID)
			continue
		}
		if e, ok := parseEntry(l.raw); ok && vlan >= 0 && e.VLAN != vlan {
			e.VLAN = vlan
			l.raw = entryLine(e)
			k.Moved = append(k.Moved, l.keyID)
		}
		kept = append(kept, l)
	}
	if len(k.Withdrawn)+len(k.Moved) == 0 {
		return k, nil
	}
	return k, f.write(kept)
}

// parseEntry reads back a line entryLine wrote.
func parseEntry(raw string) (Entry, bool) {
	w := strings.Fields(raw)
	if len(w) < 3 {
		return Entry{}, false
	}
	var e Entry
	for _, f := range w[:len(w)-2] {
		switch k, v, _ := strings.Cut(f, "="); k {
		case "keyid":
			e.KeyID = v
		case "vlanid":
			n, err := strconv.Atoi(v)
			if err != nil {
				return Entry{}, false
			}
			e.VLAN = n
		default:
			return Entry{}, false
		}
	}
	if w[len(w)-2] != wildcard || e.KeyID == "" {
		return Entry{}, false
	}
	e.Pass = Passphrase{w[len(w)-1]}
	return e, true
}

// Ctrl is how a change to a PSK file reaches hostapd.
type Ctrl interface {
	Command(ctx context.Context, cmd string) (string, error)
}

// An AccessPoint is one access point's hostapd and the PSK file it reads.
// Several may share one file.
type AccessPoint struct {
	Ifname string
	File   *PSKFile
	Ctrl   Ctrl
}

// reloadTimeout allows for hostapd deriving every passphrase in the file
// (PBKDF2) on RELOAD_WPA_PSK, seconds on a slow router with many lines.
const reloadTimeout = 20 * time.Second

// Want is one device's lines as they should be on every access point,
// and what Sync needs to tell hostapd.
type Want struct {
	Lines Lines
	// Current is the key id the device's stations connect with ("" none:
	// it is to have no working credential).
	Current string
	// Stations are its MAC addresses.
	Stations []string
}

// Sync brings every access point's file to want (by device id; see Keep)
// and has hostapd act on it at once: it re-reads the file, and the
// stations of a device whose current credential went or changed VLAN are
// disconnected, so they come back on their new VLAN or not at all; a
// withdrawn credential's cached keys are flushed too (DEAUTHENTICATE alone
// keeps the PMKSA, which would let the station resume). A line withdrawn
// that the device no longer uses (an old or unused credential) disconnects
// nobody. A hostapd that does not answer is no error: it reads the file
// when it comes back, with no station left to disconnect. Only a file that
// cannot be read or written is.
func Sync(ctx context.Context, log *slog.Logger, aps []AccessPoint, want map[string]Want) error {
	lines := make(map[string]Lines, len(want))
	for id, w := range want {
		lines[id] = w.Lines
	}
	type result struct {
		kept Kept
		err  error
	}
	byFile := map[*PSKFile]result{}
	var errs []error
	for _, ap := range aps {
		r, seen := byFile[ap.File]
		if !seen {
			r.kept, r.err = ap.File.Keep(lines)
			byFile[ap.File] = r
			if r.err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ap.Ifname, r.err))
			}
		}
		if r.err != nil || len(r.kept.Withdrawn)+len(r.kept.Moved) == 0 || ap.Ctrl == nil {
			continue
		}
		sum, serr := ap.File.Sum()
		rctx, cancel := context.WithTimeout(ctx, reloadTimeout)
		_, err := ap.Ctrl.Command(rctx, "RELOAD_WPA_PSK")
		cancel()
		if err != nil {
			log.Warn("hostapd did not reload PSKs; it reads them when it comes back", "iface", ap.Ifname, "err", err)
			continue
		}
		if serr == nil {
			ap.File.Told(ap.Ifname, sum)
		}
		// The VLAN is chosen at association: a moved device reconnects.
		done, flush := map[string]bool{}, false
		cut := func(keyID string, withdrawn bool) {
			dev := DeviceOf(keyID)
			w := want[dev]
			if done[dev] || len(w.Stations) == 0 || !(keyID == w.Current || withdrawn && w.Current == "") {
				return
			}
			done[dev] = true
			flush = flush || withdrawn
			for _, m := range w.Stations {
				ap.Ctrl.Command(ctx, "DEAUTHENTICATE "+m)
			}
		}
		for _, k := range r.kept.Withdrawn {
			cut(k, true)
		}
		for _, k := range r.kept.Moved {
			cut(k, false)
		}
		if flush {
			ap.Ctrl.Command(ctx, "PMKSA_FLUSH")
		}
	}
	return errors.Join(errs...)
}
