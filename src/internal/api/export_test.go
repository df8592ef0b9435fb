package api

import "time"

// SetIdleTimeout sets how long API keep-alive connections may sit idle,
// for the test's own servers.
func SetIdleTimeout(d time.Duration) { apiIdleTimeout = d }
