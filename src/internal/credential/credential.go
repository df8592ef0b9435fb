package credential

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/trustjoin/trustjoin/src/internal/fsutil"
)

// A Passphrase is a device's secret: a passphrase of 8..63 characters or,
// derived from one for an SSID (PSK), the 64-hex-digit WPA PSK. It prints
// as [redacted] everywhere (logs, errors, JSON); DPPParam and the PSK file
// are the only ways out, for hostapd.
type Passphrase struct{ s string }

// String implements fmt.Stringer without revealing the secret.
func (Passphrase) String() string { return "[redacted]" }

// GoString keeps %#v from revealing it too.
func (Passphrase) GoString() string { return "credential.Passphrase{[redacted]}" }

// MarshalJSON keeps the secret out of any JSON.
func (Passphrase) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// Hex returns the secret hex-encoded (for a passphrase, as DPP's pass=
// wants it).
func (p Passphrase) Hex() string { return hex.EncodeToString([]byte(p.s)) }

// Equal reports whether two secrets are the same.
func (p Passphrase) Equal(o Passphrase) bool { return p.s == o.s }

// IsPSK reports whether the secret is a derived 64-hex PSK rather than a
// passphrase.
func (p Passphrase) IsPSK() bool { return isPSK(p.s) }

func isPSK(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// PSK derives the WPA PSK for ssid (IEEE 802.11 PBKDF2-SHA1, 4096 rounds),
// what hostapd would compute for a passphrase line on every reload of the
// PSK file; a PSK line costs it nothing. A PSK stays a PSK.
func (p Passphrase) PSK(ssid []byte) Passphrase {
	if p.IsPSK() {
		return p
	}
	return Passphrase{hex.EncodeToString(pbkdf2SHA1([]byte(p.s), ssid, 4096, 32))}
}

// DPPParam is the credential argument of hostapd's DPP configurator
// parameters: pass=<hex of the passphrase> or psk=<64 hex>. DPP can carry
// a PSK only for conf=sta-psk (SAE needs the passphrase).
func (p Passphrase) DPPParam() string {
	if p.IsPSK() {
		return "psk=" + p.s
	}
	return "pass=" + p.Hex()
}

// pbkdf2SHA1 is PBKDF2 (RFC 8018) with HMAC-SHA1, as WPA uses it; the
// standard library has it only from Go 1.24.
func pbkdf2SHA1(password, salt []byte, iter, keyLen int) []byte {
	prf := hmac.New(sha1.New, password)
	var out []byte
	for block := uint32(1); len(out) < keyLen; block++ {
		prf.Reset()
		prf.Write(salt)
		prf.Write([]byte{byte(block >> 24), byte(block >> 16), byte(block >> 8), byte(block)})
		u := prf.Sum(nil)
		t := slices.Clone(u)
		for i := 1; i < iter; i++ {
			prf.Reset()
			prf.Write(u)
			u = prf.Sum(u[:0])
			for j := range t {
				t[j] ^= u[j]
			}
		}
		out = append(out, t...)
	}
	return out[:keyLen]
}

// alphabet avoids characters that confuse people or shells, should a
// legacy device ever need the passphrase typed in.
const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// NewPassphrase returns a fresh random 24-character passphrase (about 140
// bits), within WPA's 8..63 characters.
func NewPassphrase() (Passphrase, error) {
	b := make([]byte, 24)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return Passphrase{}, fmt.Errorf("failed to generate a passphrase: %v", err)
		}
		b[i] = alphabet[n.Int64()]
	}
	return Passphrase{string(b)}, nil
}

// wildcard matches any station MAC in a wpa_psk_file.
const wildcard = "00:00:00:00:00:00"

// A PSKFile is a wpa_psk_file trustjoin owns. Lines it did not write
// (comments, entries added by hand) are kept as they are.
type PSKFile struct {
	path string
	mu   sync.Mutex
	// told is, per access point, the file's contents (their hash) as its
	// hostapd was last told to read them (Told).
	told map[string][sha256.Size]byte
}

// Open returns the PSK file at path; it need not exist yet.
func Open(path string) *PSKFile { return &PSKFile{path: path} }

// Path is the file's location, for hostapd's wpa_psk_file.
func (f *PSKFile) Path() string { return f.path }

// Sum is the hash of the file's contents (of nothing if it does not exist).
func (f *PSKFile) Sum() ([sha256.Size]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.path)
	if err != nil && !os.IsNotExist(err) {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// Told records that ifname's hostapd re-read the file (RELOAD_WPA_PSK
// answered) when its contents were sum (taken before asking).
func (f *PSKFile) Told(ifname string, sum [sha256.Size]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.told == nil {
		f.told = map[string][sha256.Size]byte{}
	}
	f.told[ifname] = sum
}

// Known reports whether ifname's hostapd has the file as it is now: it was
// told to read these very contents, and a hostapd started since read them
// at its start. A RELOAD_WPA_PSK then changes nothing but disconnects every
// station still in the middle of connecting (hostapd drops a station with
// no key yet as one whose passphrase went).
func (f *PSKFile) Known(ifname string) bool {
	sum, err := f.Sum()
	if err != nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	told, ok := f.told[ifname]
	return ok && told == sum
}

type line struct {
	raw   string
	keyID string
}

func (f *PSKFile) read() ([]line, error) {
	b, err := os.ReadFile(f.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %v", f.path, err)
	}
	var out []line
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		l := line{raw: sc.Text()}
		for _, w := range strings.Fields(l.raw) {
			if v, ok := strings.CutPrefix(w, "keyid="); ok {
				l.keyID = v
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// pskFileMode: the owner writes, its directory's group (hostapd's) reads.
const pskFileMode = 0o640

func (f *PSKFile) write(lines []line) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	// hostapd reads this file, and on OpenWrt it runs as user and group
	// network (wpad.init, under ujail, without CAP_DAC_OVERRIDE): the
	// install script makes the directory root:network and setgid, so the
	// file the rename puts there is that group's to read. Others never read
	// it.
	_, err := fsutil.WriteFile(f.path, []byte(b.String()), pskFileMode)
	return err
}

// validKeyID keeps key ids to what hostapd's parser and its events carry
// unambiguously: no spaces, no '='.
func validKeyID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Entry is one device's line. Pass may be a passphrase or a PSK.
type Entry struct {
	KeyID string
	// VLAN 0 means no VLAN.
	VLAN int
	Pass Passphrase
}

// maxLine is the longest line hostapd reads whole from a wpa_psk_file: it
// reads lines into 128 bytes, newline and terminating NUL included
// (hostapd_config_read_wpa_psk), and a longer one would be split in two.
const maxLine = 126

func entryLine(e Entry) string {
	entry := "keyid=" + e.KeyID
	if e.VLAN > 0 {
		entry += " vlanid=" + strconv.Itoa(e.VLAN)
	}
	return entry + " " + wildcard + " " + e.Pass.s
}

// Set writes (or replaces) the device's line: its key id, VLAN and
// passphrase, as a wildcard-MAC entry. vlan 0 means no VLAN.
func (f *PSKFile) Set(keyID string, vlan int, p Passphrase) error {
	return f.SetMany([]Entry{{KeyID: keyID, VLAN: vlan, Pass: p}})
}

// SetMany writes several devices' lines with one write of the file.
func (f *PSKFile) SetMany(es []Entry) error {
	for _, e := range es {
		if !validKeyID(e.KeyID) {
			return fmt.Errorf("invalid key id %q", e.KeyID)
		}
		if (len(e.Pass.s) < 8 || len(e.Pass.s) > 63) && !e.Pass.IsPSK() {
			return fmt.Errorf("passphrase for %s has the wrong length", e.KeyID)
		}
		if n := len(entryLine(e)); n > maxLine {
			return fmt.Errorf("the line for %s would be %d characters, more than hostapd reads (%d)", e.KeyID, n, maxLine)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	lines, err := f.read()
	if err != nil {
		return err
	}
	at := map[string]int{}
	for i, l := range lines {
		if l.keyID != "" {
			at[l.keyID] = i
		}
	}
	for _, e := range es {
		entry := entryLine(e)
		if i, ok := at[e.KeyID]; ok {
			lines[i] = line{raw: entry, keyID: e.KeyID}
			continue
		}
		at[e.KeyID] = len(lines)
		lines = append(lines, line{raw: entry, keyID: e.KeyID})
	}
	return f.write(lines)
}

// Passphrases returns every device's passphrase by key id, in one read.
func (f *PSKFile) Passphrases() (map[string]Passphrase, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines, err := f.read()
	if err != nil {
		return nil, err
	}
	out := map[string]Passphrase{}
	for _, l := range lines {
		if l.keyID != "" {
			w := strings.Fields(l.raw)
			out[l.keyID] = Passphrase{w[len(w)-1]}
		}
	}
	return out, nil
}

// Remove deletes the device's line; removing an absent one is no error.
func (f *PSKFile) Remove(keyID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines, err := f.read()
	if err != nil {
		return err
	}
	kept := lines[:0]
	for _, l := range lines {
		if l.keyID != keyID {
			kept = append(kept, l)
		}
	}
	return f.write(kept)
}

// KeyIDs lists the key ids with a line in the file.
func (f *PSKFile) KeyIDs() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines, err := f.read()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, l := range lines {
		if l.keyID != "" {
			ids = append(ids, l.keyID)
		}
	}
	return ids, nil
}

// Lookup returns the device's passphrase, for re-sending it over DPP after
// a restart. It is never shown to anyone.
func (f *PSKFile) Lookup(keyID string) (Passphrase, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines, err := f.read()
	if err != nil {
		return Passphrase{}, false, err
	}
	for _, l := range lines {
		if l.keyID == keyID {
			w := strings.Fields(l.raw)
			return Passphrase{w[len(w)-1]}, true, nil
		}
	}
	return Passphrase{}, false, nil
}

// RandomID returns prefix followed by 8 random hex digits: short, stable
// identifiers safe as hostapd key ids.
func RandomID(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
