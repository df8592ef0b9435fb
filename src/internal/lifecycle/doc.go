// Package lifecycle is the household's view of its devices: it answers the
// local API by combining the onboarding engine, the device registry and the
// configuration (and, for what is enforced, the firewall's rules and
// counters), and turns their errors into plain language. It never hands
// out a secret.
package lifecycle
