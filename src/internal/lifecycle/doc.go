// Package lifecycle answers the local API: it turns the device owner's
// devices (package device) and the onboarding engine's radios and
// requests (package dpp) into the API's views, and passes each call to the
// owner as the householder's, or a phone's when the phone pages pass one
// on. What is enforced for a device (`trustjoin mud show`) adds the
// firewall's rules, read from it. It never hands out a secret.
package lifecycle
