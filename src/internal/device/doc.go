// Package device owns the household's devices: it is the one place a
// device's standing changes, and where its segment is decided. Every
// change goes through it, whoever asks: onboarding and its outcome (from
// the onboarding engine, package dpp), moving, quarantine and release,
// removal, credential rotation and expiry, renaming, pre-authorisation,
// and the device's MUD URL with one validation whatever its source (the
// householder, an ISP, DHCP, DPP). Each change is checked against who
// asks (Actor: the householder, a phone link, the device itself,
// trustjoin) in one place, saved in the registry with a line in the
// device's history, and told to observers (Options.Observe; Options.Allow
// adds a rule of one's own).
//
// From a device's standing the Owner derives its Confinement: the MAC
// addresses, segment, quarantine and MUD policy the firewall enforces, and
// the PSK lines (key id and VLAN) the access points hold. It brings the
// firewall (package firewall) and the PSK files with their hostapd
// (package credential) to it, at once for the householder's changes and in
// the background for what devices do, retries what failed, and reports
// what is in force with the firewall's counters (InForce). MUD files are
// fetched, verified and decided by package mudpolicy; the Owner records
// the decisions and keeps them fresh.
//
// # The Owner's API
//
// This is what other packages build on (the API's service in package
// lifecycle, the phone pages, package watch through an interface of its
// own); it stays as it is. Changes and Device take a device's id or its
// name; Confinement and InForce its id. Errors that callers answer for are
// *fault.Error (errors.As, fault.KindOf): not found, invalid (an unknown
// segment, a bad URL), conflict (another device has the name, a device's
// claim may not change its manufacturer), forbidden (who asks may not),
// unavailable (no quarantine segment, MUD off, no access point). A change
// the registry saved but the firewall or a PSK file has not taken returns
// the device with an error saying so; trustjoin keeps trying.
//
// Wiring: New(Options), then SetRadio with the onboarding engine if it
// needed the Owner first. The Owner is a daemon task (Run, String);
// Ready is closed once every device's confinement is restored.
// Options.Observe hears of every saved Change (its Kind, who asked By, the
// device Before and After); it must not block or call back into the Owner.
//
// Changes, each checked against who asks (by):
//   - Onboard (OnboardRequest with its By): the exchange runs in the
//     background and returns its dpp.Request; a phone may add new devices
//     only, a quarantined device stays quarantined, and a credential the
//     device has keeps working until it connects with the new one.
//   - IssuePassphrase: a new device with a passphrase of its own (Legacy).
//   - Rename, Move, Quarantine, Release (only the householder lifts a
//     quarantine), Remove, Rotate; each returns the device as saved.
//     Move, Quarantine, Release and Remove are in force when they return.
//   - Expire(id, why): trustjoin withdraws an expired credential; why goes
//     in the device's history.
//   - SetMUDURL and SetMUDURLByMAC (a DHCP server's view: by the MAC the
//     device connected with), with the URL's Source; ApproveMUD.
//   - Preauthorize and RemovePreauth: devices that onboard when they chirp;
//     SyncPreauths makes those the configuration lists the registry's.
//
// What the radio reports implements dpp.Devices: Configured, Connected,
// Disconnected, Failed, MUDURL and Chirps; these are the device's own
// (Self) or trustjoin's (System) changes.
//
// Views: Device, Devices (not removed, by name), Preauths; Confinement (what
// a device's standing asks of the firewall and the access points); InForce
// (what the firewall holds for one device, what failed, its counters) and
// InForceAll (for every device, with one read of the counters, for lists);
// MUD (a device's MUD status and detail as the householder sees them,
// including a firewall that failed to take its policy).
package device
