package brski

import (
	"testing"
	"time"
)

// waitFor polls cond until it holds, failing the test after a generous
// while: it waits for something to happen, it does not time it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
