// Package web serves the householder's phone pages: the router's page (LuCI
// or "trustjoin phone") asks for a one-time link, shown as a QR code; the
// phone that opens it first may add devices from a small mobile page, by
// photographing or scanning the device's QR code, pasting its DPP URI or
// typing its PKEX code, and watch the onboarding until the device is
// connected. A phone link adds new devices only: the device owner
// (package device) refuses the code of a device the household already has,
// and the page says so.
//
// The pages answer only on the configured LAN addresses, never on every
// interface, to a bounded number of connections per client and in all,
// keeping descriptors in reserve for the rest of the daemon. Links are
// random, single-use (a HEAD does not use one up), short-lived, bound to
// the first browser and revocable; the session that follows is an HttpOnly,
// SameSite=Strict cookie, and every change is checked against a
// per-session CSRF token and the request's origin. Tokens are never logged
// (a short hash is) and no page or reply holds a secret. Links, sessions
// and rate limits (State) outlive configuration reloads. The package
// reaches radios only through the onboarding calls it is given.
//
// Where the configuration allows it (onboarding.legacy_passphrase), the
// page also offers the less safe path for devices without DPP: a
// passphrase of the device's own, shown once on the phone as text and as a
// Wi-Fi QR code. It is the one secret the pages ever show, and it goes from
// the device owner to the phone without passing the local API.
package web
