// Package watch looks after the household's devices once they are
// onboarded (NIST SP 1800-36 scenario S4, NIST IR 8350 §7). It ties
// together what notices (package behaviour: what each device's policy
// dropped and what it opened; package inventory: devices nobody onboarded;
// package expiry: credentials reaching their lifetime; package authorize:
// the authorisation hook, asked again periodically) with what acts: the
// device owner, which quarantines, moves, expires or removes a device, and
// package alert, which tells the household. Each segment's watch policy
// says whether a device that keeps trying what it may not is only reported
// or quarantined; its lifetime, how long a credential lasts; its learning
// period, how long a device without a MUD file is learned (package
// mudlearn) before a profile is proposed; the Watch has the firewall log
// the connections of exactly the devices being learned.
//
// The package decides nothing about a device's standing itself: every
// change goes through the Owner, with the reason recorded in the device's
// history and in a security event.
package watch
