// Package dpp onboards devices with Wi-Fi Easy Connect (DPP) through
// hostapd acting as configurator: it parses and checks bootstrapping URIs,
// runs the QR code, PKEX and chirp (pre-authorised) flows one exchange per
// access point at a time, and reports each request's outcome. It drives
// hostapd only through the small Ctrl interface and the events it is fed.
package dpp
