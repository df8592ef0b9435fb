// Package mudpolicy decides each device's MUD policy: for a device's MUD
// URL it fetches the file, checks its signature, decides under the
// household's signature policy whether the file may be enforced, and says
// when to look again (the file's cache-validity, or soon after a failure).
// It remembers which file is in force per device, so a refresh that fails
// keeps the last good file and a changed file waiting for approval does
// not take away the one approved before. It knows nothing of the registry
// or the firewall: the device owner (package device) asks it, records the
// outcome and enforces the policy.
package mudpolicy
