package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/fsutil"
)

// State is where a device is in its life with this network.
type State string

// The states a device goes through.
const (
	StatePending      State = "pending"
	StateOnboarding   State = "onboarding"
	StateOnboarded    State = "onboarded"
	StateConnected    State = "connected"
	StateDisconnected State = "disconnected"
	StateRemoved      State = "removed"
	// StateNeedsReonboarding: its credential was revoked or rotated and the
	// device cannot be reconfigured without scanning it again.
	StateNeedsReonboarding State = "needs-reonboarding"
)

// Device is one device the household introduced.
type Device struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// KeyHash is the SHA-256 of the device's DPP bootstrapping key: the
	// same device scanned again is recognised by it.
	KeyHash string   `json:"key_hash,omitempty"`
	MACs    []string `json:"macs,omitempty"`
	Segment string   `json:"segment"`
	Ifname  string   `json:"ifname,omitempty"`
	// KeyID names the device's credential line in the PSK file; the
	// passphrase itself is not here.
	KeyID             string    `json:"key_id,omitempty"`
	CredentialCreated time.Time `json:"credential_created,omitempty"`
	// Onboarding is a credential being given to the device, until it
	// connects with it; the credential it has (KeyID) keeps working until
	// then.
	Onboarding  *Onboarding `json:"onboarding,omitempty"`
	State       State       `json:"state"`
	Quarantined bool        `json:"quarantined,omitempty"`
	// QuarantinedFrom is the segment a quarantined device was in: release
	// takes it back there, and its credential keeps that segment's
	// lifetime meanwhile.
	QuarantinedFrom string    `json:"quarantined_from,omitempty"`
	MUDURL          string    `json:"mud_url,omitempty"`
	LastSeen        time.Time `json:"last_seen,omitempty"`
	History         []Event   `json:"history,omitempty"`

	// Recorded by the device owner (package device) as package mudpolicy
	// decides: where the device's MUD policy stands (api.MUDStatus
	// values) and why, the SHA-256 of the file last fetched, the SHA-256 the householder approved (approval is
	// bound to one exact file), and when the file was fetched.
	MUDStatus   string    `json:"mud_status,omitempty"`
	MUDDetail   string    `json:"mud_detail,omitempty"`
	MUDDigest   string    `json:"mud_digest,omitempty"`
	MUDApproved string    `json:"mud_approved,omitempty"`
	MUDFetched  time.Time `json:"mud_fetched,omitempty"`
}

// Onboarding is a credential on its way to a device: the key id of its
// line and the segment the device joins with it.
type Onboarding struct {
	KeyID   string    `json:"key_id"`
	Segment string    `json:"segment"`
	Since   time.Time `json:"since"`
	// Configured: the device has received it (it may have no other).
	Configured bool `json:"configured,omitempty"`
}

// Event is one entry of a device's history.
type Event struct {
	At   time.Time `json:"at"`
	What string    `json:"what"`
}

// maxHistory bounds each device's history on flash.
const maxHistory = 20

// Record appends to the device's history, dropping the oldest entries.
func (d *Device) Record(at time.Time, what string) {
	d.History = append(d.History, Event{At: at, What: what})
	if n := len(d.History); n > maxHistory {
		d.History = append([]Event(nil), d.History[n-maxHistory:]...)
	}
}

// Preauth is a device pre-authorised by its bootstrapping URI, by the
// householder or an ISP, so it onboards when it announces itself.
type Preauth struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	URI     string    `json:"uri"`
	KeyHash string    `json:"key_hash"`
	Segment string    `json:"segment"`
	AddedBy string    `json:"added_by"`
	AddedAt time.Time `json:"added_at"`
	// Section is the configuration's preauth section the entry comes
	// from; empty for one added by hand or over ubus.
	Section string `json:"section,omitempty"`
	// Asked is the segment the configuration asked for, where the
	// authorisation hook chose another (Segment): the entry is in sync
	// with its section while the section asks for the same.
	Asked string `json:"asked,omitempty"`
}

type file struct {
	Version  int        `json:"version"`
	Devices  []*Device  `json:"devices"`
	Preauths []*Preauth `json:"preauthorized"`
}

// A Registry is the set of devices, persisted to one JSON file.
type Registry struct {
	path string
	log  *slog.Logger
	mu   sync.Mutex
	f    file
}

// Open loads the registry at path. A missing file is an empty registry. A
// corrupt one falls back to the previous good copy (path + ".prev"),
// loudly; if that is unusable too, Open fails rather than start empty and
// forget the household's devices.
func Open(path string, log *slog.Logger) (*Registry, error) {
	r := &Registry{path: path, log: log}
	err := load(path, &r.f)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrNotExist):
		if perr := load(path+".prev", &r.f); perr != nil && !errors.Is(perr, os.ErrNotExist) {
			return nil, perr
		}
	default:
		log.Error("device registry is corrupt, loading the previous copy", "file", path, "err", err)
		if perr := load(path+".prev", &r.f); perr != nil {
			return nil, fmt.Errorf("device registry %s is corrupt (%v) and so is its previous copy (%v)", path, err, perr)
		}
	}
	return r, nil
}

func load(path string, f *file) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var nf file
	if err := json.Unmarshal(b, &nf); err != nil {
		return fmt.Errorf("failed to parse %s: %v", path, err)
	}
	*f = nf
	return nil
}

// save writes the registry; the file it replaces becomes the .prev copy.
func (r *Registry) save() error {
	r.f.Version = 1
	b, err := json.MarshalIndent(&r.f, "", "  ")
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(r.path); err == nil {
		if string(old) == string(b) {
			return nil
		}
		if _, err := fsutil.WriteFile(r.path+".prev", old, 0o600); err != nil {
			return err
		}
	}
	_, err = fsutil.WriteFile(r.path, b, 0o600)
	return err
}

func clone(d *Device) Device {
	c := *d
	c.MACs = append([]string(nil), d.MACs...)
	c.History = append([]Event(nil), d.History...)
	if d.Onboarding != nil {
		o := *d.Onboarding
		c.Onboarding = &o
	}
	return c
}

// List returns every device not removed, by name.
func (r *Registry) List() []Device {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Device
	for _, d := range r.f.Devices {
		if d.State != StateRemoved {
			out = append(out, clone(d))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get finds a device by id or, for people, by name.
func (r *Registry) Get(idOrName string) (Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.find(idOrName)
	if d == nil {
		return Device{}, fault.New(fault.NotFound, "no device %q", idOrName)
	}
	return clone(d), nil
}

func (r *Registry) find(idOrName string) *Device {
	for _, d := range r.f.Devices {
		if d.ID == idOrName && d.State != StateRemoved {
			return d
		}
	}
	for _, d := range r.f.Devices {
		if d.Name == idOrName && d.State != StateRemoved {
			return d
		}
	}
	return nil
}

// ByKeyHash finds the device with this bootstrapping key, removed or not.
func (r *Registry) ByKeyHash(hash string) (Device, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.f.Devices {
		if hash != "" && d.KeyHash == hash {
			return clone(d), true
		}
	}
	return Device{}, false
}

// ByKeyID finds the device whose credential line, or whose credential on
// its way (Onboarding), is keyID.
func (r *Registry) ByKeyID(keyID string) (Device, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.f.Devices {
		if keyID != "" && d.State != StateRemoved && (d.KeyID == keyID || d.Onboarding != nil && d.Onboarding.KeyID == keyID) {
			return clone(d), true
		}
	}
	return Device{}, false
}

// ByMAC finds the device that connected with the MAC address mac (in
// lower case, as hostapd prints it).
func (r *Registry) ByMAC(mac string) (Device, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.f.Devices {
		if d.State != StateRemoved && slices.Contains(d.MACs, mac) {
			return clone(d), true
		}
	}
	return Device{}, false
}

// All returns every device, removed ones too, in no particular order.
func (r *Registry) All() []Device {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Device, 0, len(r.f.Devices))
	for _, d := range r.f.Devices {
		out = append(out, clone(d))
	}
	return out
}

// Put adds or replaces a device and saves.
func (r *Registry) Put(d Device) error { return r.PutMany([]Device{d}) }

// PutMany adds or replaces devices with one save, for bulk imports. If the
// save fails, the registry in memory stays as it was, like the file.
func (r *Registry) PutMany(ds []Device) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.f.Devices
	next := append(make([]*Device, 0, len(old)+len(ds)), old...)
	index := map[string]int{}
	for i, d := range next {
		index[d.ID] = i
	}
	for _, d := range ds {
		c := clone(&d)
		if i, ok := index[d.ID]; ok {
			next[i] = &c
			continue
		}
		index[d.ID] = len(next)
		next = append(next, &c)
	}
	r.f.Devices = next
	if err := r.save(); err != nil {
		r.f.Devices = old
		return err
	}
	return nil
}

// Update changes a device under the lock and saves it; if the save fails,
// the device stays as it was.
func (r *Registry) Update(id string, fn func(*Device) error) (Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.find(id)
	if d == nil {
		return Device{}, fault.New(fault.NotFound, "no device %q", id)
	}
	old, c := clone(d), clone(d)
	if err := fn(&c); err != nil {
		return Device{}, err
	}
	*d = c
	if err := r.save(); err != nil {
		*d = old
		return Device{}, err
	}
	return clone(d), nil
}

// UniqueName returns base, or base with a number, unused by any device.
func (r *Registry) UniqueName(base string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := base
	for i := 2; r.find(name) != nil; i++ {
		name = fmt.Sprintf("%s %d", base, i)
	}
	return name
}

// Preauths lists the pre-authorised devices.
func (r *Registry) Preauths() []Preauth {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Preauth, 0, len(r.f.Preauths))
	for _, p := range r.f.Preauths {
		out = append(out, *p)
	}
	return out
}

// AddPreauths adds entries (one save for all), replacing any with the same
// key hash.
func (r *Registry) AddPreauths(ps []Preauth) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := append([]*Preauth(nil), r.f.Preauths...)
	index := map[string]int{}
	for i, p := range next {
		index[p.KeyHash] = i
	}
	for _, p := range ps {
		p := p
		if i, ok := index[p.KeyHash]; ok {
			next[i] = &p
			continue
		}
		index[p.KeyHash] = len(next)
		next = append(next, &p)
	}
	return r.savePreauths(next)
}

// RemovePreauth deletes an entry by id or key hash.
func (r *Registry) RemovePreauth(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, p := range r.f.Preauths {
		if p.ID == id || p.KeyHash == id {
			next := append(append([]*Preauth(nil), r.f.Preauths[:i]...), r.f.Preauths[i+1:]...)
			return r.savePreauths(next)
		}
	}
	return fault.New(fault.NotFound, "no pre-authorised device %q", id)
}

// ReplacePreauths removes the entries drop selects and adds add (replacing
// any with the same key hash), with one save.
func (r *Registry) ReplacePreauths(drop func(Preauth) bool, add []Preauth) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var next []*Preauth
	for _, p := range r.f.Preauths {
		if !drop(*p) {
			next = append(next, p)
		}
	}
	index := map[string]int{}
	for i, p := range next {
		index[p.KeyHash] = i
	}
	for _, p := range add {
		p := p
		if i, ok := index[p.KeyHash]; ok {
			next[i] = &p
			continue
		}
		index[p.KeyHash] = len(next)
		next = append(next, &p)
	}
	return r.savePreauths(next)
}

// savePreauths saves with next as the list, keeping the old one if the
// save fails.
func (r *Registry) savePreauths(next []*Preauth) error {
	old := r.f.Preauths
	r.f.Preauths = next
	if err := r.save(); err != nil {
		r.f.Preauths = old
		return err
	}
	return nil
}
