package web

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/skip2/go-qrcode"
	"github.com/trustjoin/trustjoin/src/internal/device"
	"github.com/trustjoin/trustjoin/src/internal/fault"
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

func (s *Server) issue(w http.ResponseWriter, r *http.Request) {
	if s.legacy == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "This router does not hand out device passwords. Use the device's QR code or pairing code."})
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
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "The page sent something the router did not understand. Reload the page and try again."})
		return
	}
	f.Name = strings.TrimSpace(f.Name)
	if err := checkName(f.Name); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": capitalise(err.Error())})
		return
	}
	l, err := s.legacy.IssuePassphrase(r.Context(), f.Name, "", device.Phone)
	switch fault.KindOf(err) {
	case fault.Invalid:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": capitalise(err.Error())})
		return
	case fault.Unavailable:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": capitalise(err.Error())})
		return
	}
	if err != nil {
		s.log.Error("failed to issue a passphrase", "session", se.id, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "The router could not do that. Try again in a moment."})
		return
	}
	// Hex is the passphrase's only way out; here it must be shown.
	pass, err := hex.DecodeString(l.Passphrase.Hex())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "The router could not do that. Try again in a moment."})
		return
	}
	png, err := qrcode.Encode(wifiQR(l.SSID, string(pass)), qrcode.Medium, 320)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "The router could not draw the Wi-Fi code. Type the password instead."})
		return
	}
	s.log.Info("device passphrase shown on a phone (legacy path)", "session", se.id, "device", l.Device.ID)
	writeJSON(w, http.StatusOK, legacyReply{
		DeviceID: l.Device.ID, Name: l.Device.Name, SSID: l.SSID, Passphrase: string(pass),
		QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png),
	})
}

// wifiQR is the Wi-Fi QR code text phones and some devices understand,
// with its special characters escaped.
func wifiQR(ssid, pass string) string {
	esc := strings.NewReplacer(`\`, `\\`, `;`, `\;`, `,`, `\,`, `:`, `\:`, `"`, `\"`)
	return "WIFI:T:WPA;S:" + esc.Replace(ssid) + ";P:" + esc.Replace(pass) + ";;"
}
