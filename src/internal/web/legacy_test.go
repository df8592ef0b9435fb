package web_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/device"
	"github.com/trustjoin/trustjoin/src/internal/registry"
	"github.com/trustjoin/trustjoin/src/internal/web"
)

type issuer struct {
	mu     sync.Mutex
	issued []device.Legacy
}

func (i *issuer) IssuePassphrase(_ context.Context, name, _ string, _ device.Actor) (device.Legacy, error) {
	p, err := credential.NewPassphrase()
	if err != nil {
		return device.Legacy{}, err
	}
	l := device.Legacy{Device: registry.Device{ID: "d-1", Name: name}, SSID: "Home", Passphrase: p}
	i.mu.Lock()
	i.issued = append(i.issued, l)
	i.mu.Unlock()
	return l, nil
}

func TestLegacyOffByDefault(t *testing.T) {
	r := start(t)
	phone := r.browser(t)
	must(t, phone.get(t, r.link(t).URL), 200, "Add a device")
	if strings.Contains(phone.get(t, "/").body, "legacy") {
		t.Fatal("the page offers the legacy path while it is off")
	}
	must(t, phone.do(t, "POST", "/api/legacy", map[string]string{}, map[string]string{"Content-Type": "application/json", "X-CSRF-Token": phone.csrf(t)}), 404, "does not hand out device passwords")
}

func TestLegacyShownOnceToItsPhone(t *testing.T) {
	is := &issuer{}
	r := start(t, func(o *web.Options) { o.Legacy = is })
	phone := r.browser(t)
	must(t, phone.get(t, r.link(t).URL), 200, "Add a device")
	must(t, phone.get(t, "/"), 200, "This is less safe:")
	must(t, phone.do(t, "POST", "/api/legacy", map[string]string{"name": "Printer"}, map[string]string{
		"Content-Type": "application/json", "X-CSRF-Token": "wrong", "Origin": r.base,
	}), 403, "did not come from the page")
	if len(is.issued) != 0 {
		t.Fatal("a passphrase was issued for a forged request")
	}
	must(t, phone.do(t, "POST", "/api/legacy", map[string]string{"name": "Printer\r\nd-1\tiot"}, map[string]string{
		"Content-Type": "application/json", "X-CSRF-Token": phone.csrf(t), "Origin": r.base,
	}), 400, "The name holds a control character (U+000D)")
	if len(is.issued) != 0 {
		t.Fatal("a passphrase was issued for a device with a bad name")
	}

	got := phone.do(t, "POST", "/api/legacy", map[string]string{"name": "Printer"}, map[string]string{
		"Content-Type": "application/json", "X-CSRF-Token": phone.csrf(t), "Origin": r.base,
	})
	must(t, got, 200, `"ssid":"Home"`)
	var reply struct {
		Name, SSID, Passphrase, QR string
	}
	if err := json.Unmarshal([]byte(got.body), &reply); err != nil {
		t.Fatal(err)
	}
	if len(is.issued) != 1 {
		t.Fatalf("%d passphrases issued, want 1", len(is.issued))
	}
	want, _ := hex.DecodeString(is.issued[0].Passphrase.Hex())
	if reply.Passphrase != string(want) || reply.Name != "Printer" || !strings.HasPrefix(reply.QR, "data:image/png;base64,") {
		t.Fatalf("reply %+v does not show the issued passphrase", reply)
	}
	if got.header.Get("Cache-Control") != "no-store" {
		t.Fatal("the passphrase may be cached")
	}
	if strings.Contains(r.logs.String(), reply.Passphrase) {
		t.Fatal("the passphrase is in the log")
	}
	// Another browser cannot ask for one.
	must(t, r.browser(t).do(t, "POST", "/api/legacy", map[string]string{}, map[string]string{"Content-Type": "application/json"}), 403, "Scan the router")
}
