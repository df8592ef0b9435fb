// Package dpp is Wi-Fi Easy Connect (DPP) over hostapd acting as
// configurator: it parses and checks bootstrapping URIs and runs the QR
// code, PKEX and chirp (pre-authorised) exchanges, one per access point at
// a time, writing the credential each sends into the access point's PSK
// file. It keeps the configurator across hostapd restarts and reports each
// request's progress.
//
// It decides nothing about devices: which device an exchange is for, its
// credential's key id and VLAN come with the request, and what hostapd
// reports (a device configured or connected, its MUD URL, an exchange that
// failed) goes to Devices, the device owner (package device). It drives
// hostapd only through the small Ctrl interface and the events it is fed.
package dpp
