package web

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"

	"github.com/trustjoin/trustjoin/src/internal/device"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/httpd"
)

// legacyReply shows a device's passphrase, this once. It is the only
// reply that holds a secret, and only when the configuration allows the
// legacy path.
type legacyReply struct {
	DeviceID   string `json:"device_id"`
	Name       string `json:"name"`
	SSID       string `json:"ssid"`
	Passphrase string `json:"passphrase"`
	// QR is a Wi-Fi QR code (WIFI:T:WPA;S:…;P:…;;) as a PNG data URL, for
	// devices that can scan one.
	QR string `json:"qr"`
}

func (s *Server) issue(w httpd.ResponseWriter, r *httpd.Request) {
	if s.legacy == nil {
		writeJSON(w, httpd.StatusNotFound, map[string]string{"error": "This router does not hand out device passwords. Use the device's QR code or pairing code."})
		return
	}
	se := s.changing(w, r, true)
	if se == nil {
		return
	}
	var f struct {
		Name string `json:"name"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeJSON(w, httpd.StatusBadRequest, map[string]string{"error": "The page sent something the router did not understand. Reload the page and try again."})
		return
	}
	f.Name = strings.TrimSpace(f.Name)
	if err := checkName(f.Name); err != nil {
		writeJSON(w, httpd.StatusBadRequest, map[string]string{"error": capitalise(err.Error())})
		return
	}
	l, err := s.legacy.IssuePassphrase(r.Context(), f.Name, "", device.Phone)
	switch fault.KindOf(err) {
	case fault.Invalid:
		writeJSON(w, httpd.StatusBadRequest, map[string]string{"error": capitalise(err.Error())})
		return
	case fault.Unavailable:
		writeJSON(w, httpd.StatusServiceUnavailable, map[string]string{"error": capitalise(err.Error())})
		return
	}
	if err != nil {
		s.log.Error("failed to issue a passphrase", "session", se.id, "err", err)
		writeJSON(w, httpd.StatusInternalServerError, map[string]string{"error": "The router could not do that. Try again in a moment."})
		return
	}
	// Hex is the passphrase's only way out; here it must be shown.
	pass, err := hex.DecodeString(l.Passphrase.Hex())
	if err != nil {
		writeJSON(w, httpd.StatusInternalServerError, map[string]string{"error": "The router could not do that. Try again in a moment."})
		return
	}
	qr, err := qrDataURL(wifiQR(l.SSID, string(pass)))
	if err != nil {
		writeJSON(w, httpd.StatusInternalServerError, map[string]string{"error": "The router could not draw the Wi-Fi code. Type the password instead."})
		return
	}
	s.log.Info("device passphrase shown on a phone (legacy path)", "session", se.id, "device", l.Device.ID)
	writeJSON(w, httpd.StatusOK, legacyReply{
		DeviceID: l.Device.ID, Name: l.Device.Name, SSID: l.SSID, Passphrase: string(pass),
		QR: qr,
	})
}

// wifiQR is the Wi-Fi QR code text phones and some devices understand,
// with its special characters escaped.
func wifiQR(ssid, pass string) string {
	esc := strings.NewReplacer(`\`, `\\`, `;`, `\;`, `,`, `\,`, `:`, `\:`, `"`, `\"`)
	return "WIFI:T:WPA;S:" + esc.Replace(ssid) + ";P:" + esc.Replace(pass) + ";;"
}
