package api

import (
	"context"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/httpd"
)

// PhoneSession is a one-time link for the householder's phone: the router
// shows URL as the QR code QR, the phone opens it and adds a device from
// there. The link carries the session's token, the only secret any reply
// holds: handing it to the page that shows the QR code is the call's
// purpose, and the socket is root-only.
type PhoneSession struct {
	// ID names the session for revocation; it is not a secret.
	ID  string `json:"id"`
	URL string `json:"url"`
	// QR is the URL as a QR code, a PNG data URL ready for an <img>.
	QR        string    `json:"qr"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PhoneService is what a Service also implements when the daemon serves
// the phone pages (web section of the configuration). Without it the phone
// calls answer 503 with what to configure.
type PhoneService interface {
	// PhoneStart mints a fresh single-use link.
	PhoneStart(ctx context.Context) (PhoneSession, error)
	// PhoneRevoke ends a session: its link stops working and a phone that
	// opened it is logged out.
	PhoneRevoke(ctx context.Context, id string) error
}

// errNoPhone explains how to turn the phone pages on.
var errNoPhone = fault.New(fault.Unavailable, "the phone pages are off; in /etc/config/trustjoin set option enabled '1' and a LAN address (list listen '192.168.1.1:8099') in the web section, then reload trustjoin")

func (h *handler) phoneRoutes(mux *httpd.ServeMux) {
	p, ok := h.s.(PhoneService)
	mux.HandleFunc("POST /v1/phone", h.wrap(func(r *httpd.Request) (any, error) {
		if !ok {
			return nil, errNoPhone
		}
		return p.PhoneStart(r.Context())
	}))
	mux.HandleFunc("DELETE /v1/phone/{id}", h.wrap(func(r *httpd.Request) (any, error) {
		if !ok {
			return nil, errNoPhone
		}
		id := r.PathValue("id")
		return map[string]string{"revoked": id}, p.PhoneRevoke(r.Context(), id)
	}))
}
