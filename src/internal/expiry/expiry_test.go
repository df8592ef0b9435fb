package expiry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	now := t0
	creds := []Credential{
		{Device: "guest-phone", Issued: t0, Lifetime: 24 * time.Hour},
		{Device: "camera", Issued: t0},                              // for ever
		{Device: "visitor", Issued: t0, Lifetime: 30 * time.Minute}, // inside its warning at once
	}
	var events []string
	c := New(Options{
		Credentials: func() []Credential { return creds },
		Warning:     time.Hour,
		OnWarn:      func(cr Credential) { events = append(events, "warn "+cr.Device) },
		OnExpire: func(cr Credential) {
			events = append(events, "expire "+cr.Device)
		},
		Now: func() time.Time { return now },
	})
	check := func(at time.Duration, want []string, wantNext time.Duration) {
		t.Helper()
		now = t0.Add(at)
		events = nil
		next := c.Check()
		if diff := cmp.Diff(want, events); diff != "" {
			t.Fatalf("at %v (-want +got):\n%s", at, diff)
		}
		if wn := t0.Add(wantNext); wantNext >= 0 && !next.Equal(wn) || wantNext < 0 && !next.IsZero() {
			t.Fatalf("at %v: next = %v, want %v", at, next.Sub(t0), wantNext)
		}
	}
	check(0, []string{"warn visitor"}, 30*time.Minute)
	check(10*time.Minute, nil, 30*time.Minute) // warned once
	check(30*time.Minute, []string{"expire visitor"}, 31*time.Minute)
	// Withdrawn: no longer listed.
	creds = creds[:2]
	check(31*time.Minute, nil, 23*time.Hour)
	check(23*time.Hour, []string{"warn guest-phone"}, 24*time.Hour)
	// Onboarded again in the meantime: a new credential, warned of again
	// before its own expiry, and the old expiry forgotten.
	creds[0].Issued = t0.Add(23*time.Hour + 30*time.Minute)
	check(23*time.Hour+30*time.Minute, nil, 46*time.Hour+30*time.Minute)
	check(46*time.Hour+30*time.Minute, []string{"warn guest-phone"}, 47*time.Hour+30*time.Minute)
	creds = creds[1:]
	check(48*time.Hour, nil, -1)
}

func TestExpiresWithoutWarning(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var expired []string
	now := t0.Add(2 * time.Hour)
	c := New(Options{
		Credentials: func() []Credential { return []Credential{{Device: "d", Issued: t0, Lifetime: time.Hour}} },
		OnWarn:      func(Credential) { t.Error("warned with Warning 0") },
		OnExpire:    func(cr Credential) { expired = append(expired, cr.Device) },
		Now:         func() time.Time { return now },
	})
	// Long expired (the router was off): expired at once, and again at the
	// next check while it is still listed (withdrawal failed).
	c.Check()
	c.Check()
	if len(expired) != 2 {
		t.Fatalf("expired %v, want d twice", expired)
	}
}
