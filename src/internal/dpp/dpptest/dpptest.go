// Package dpptest has what tests of onboarding need without a radio: a
// hostapd control stand-in that records every command and answers like
// hostapd, and devices' DPP codes. The real exchange runs in the lab
// (test/lab/scenarios/dpp.sh).
package dpptest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/hostapd"
)

// Ctrl records commands and answers like hostapd.
type Ctrl struct {
	mu   sync.Mutex
	cmds []string
	// Replies by verb (the command's first word), and failures.
	Replies  map[string]string
	Failures map[string]error
	nextID   int
	// configurators are the ids this hostapd knows; a restarted one knows none.
	configurators map[string]bool
}

// NewCtrl returns a hostapd with DPP, SSID "Home" on 2437 MHz.
func NewCtrl() *Ctrl {
	return &Ctrl{Replies: map[string]string{
		"GET_CAPABILITY": "DPP=2", "GET_CONFIG": "ssid=Home\nkey_mgmt=WPA-PSK", "STATUS": "freq=2437",
	}, Failures: map[string]error{}, configurators: map[string]bool{}}
}

// Command implements the engine's Ctrl.
func (f *Ctrl) Command(_ context.Context, cmd string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, cmd)
	v, _, _ := strings.Cut(cmd, " ")
	if err := f.Failures[v]; err != nil {
		return "", err
	}
	if r, ok := f.Replies[v]; ok {
		return r, nil
	}
	switch v {
	case "DPP_CONFIGURATOR_GET_KEY":
		if !f.configurators[strings.TrimPrefix(cmd, v+" ")] {
			return "", hostapd.ErrFail
		}
		return "30770201010420aabbcc", nil
	case "DPP_CONFIGURATOR_ADD":
		f.nextID++
		id := fmt.Sprint(f.nextID)
		f.configurators[id] = true
		return id, nil
	case "DPP_QR_CODE", "DPP_BOOTSTRAP_GEN", "DPP_PKEX_ADD":
		f.nextID++
		return fmt.Sprint(f.nextID), nil
	}
	return "OK", nil
}

// Sent returns the commands sent so far that start with prefix.
func (f *Ctrl) Sent(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.cmds {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// SetReply sets the answer to a verb.
func (f *Ctrl) SetReply(verb, reply string) {
	f.mu.Lock()
	f.Replies[verb] = reply
	f.mu.Unlock()
}

// SetFailure makes a verb fail.
func (f *Ctrl) SetFailure(verb string, err error) {
	f.mu.Lock()
	f.Failures[verb] = err
	f.mu.Unlock()
}

// URI is a device's DPP code with a fresh P-256 key, compressed as devices
// print it.
func URI(t testing.TB) string { return "DPP:C:81/6;V:2;K:" + Key(t) + ";;" }

// Key is a fresh P-256 public key as DPP's K: field holds it.
func Key(t testing.TB) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt := elliptic.MarshalCompressed(elliptic.P256(), k.X, k.Y)
	der, err := asn1.Marshal(struct {
		Algo struct{ OID, Curve asn1.ObjectIdentifier }
		Key  asn1.BitString
	}{
		Algo: struct{ OID, Curve asn1.ObjectIdentifier }{asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}},
		Key:  asn1.BitString{Bytes: pt, BitLength: len(pt) * 8},
	})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// Event parses an event line as hostapd on iface sends it.
func Event(iface, name string, args ...string) hostapd.Event {
	e, _ := hostapd.ParseEvent(iface, "<3>"+strings.TrimSpace(name+" "+strings.Join(args, " ")))
	return e
}
