// Package lifecycle answers the local API: it turns the device owner's
// devices (package device) and the onboarding engine's radios and
// requests (package dpp) into the API's views, and passes each call to the
// owner as the householder's, or a phone's when the phone pages pass one
// on. What is enforced for a device (`trustjoin mud show`) adds the
// firewall's rules, read from it. It never hands out a secret. It also
// says when the installed hostapd is a basic variant, and HostapdVLANs
// fits the access points' per_sta_vif to the hostapd whenever the package
// changes.
package lifecycle
