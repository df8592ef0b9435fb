// Package daemon runs trustjoin's long-running tasks for one configuration at
// a time: it reports readiness only once every task is ready (to systemd via
// sd_notify, and in the log), reloads on SIGHUP without ever half-applying a
// configuration, and stops cleanly on SIGTERM or SIGINT.
package daemon
