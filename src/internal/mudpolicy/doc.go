// Package mudpolicy keeps each device's MUD policy current: for every
// device with a MUD URL it fetches the file, checks its signature, decides
// under the household's signature policy whether the file may be enforced,
// records where it stands in the device registry, and hands the result to
// the firewall. It refreshes files at their cache-validity, keeps
// enforcing the last good file when a refresh fails, and restores every
// device's enforcement at start-up before the daemon reports ready.
package mudpolicy
