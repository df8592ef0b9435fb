package authorize

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// script writes an executable hook with body and returns a Hook using it.
func script(t *testing.T, body string) *Hook {
	t.Helper()
	p := filepath.Join(t.TempDir(), "authorize")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return &Hook{Path: p, Owner: os.Getuid(), Segment: func(s string) bool { return s == "guest" || s == "iot" }}
}

var camera = Device{ID: "d1", Name: "camera", MACs: []string{"02:00:00:00:00:01"}, Segment: "iot",
	DPPKeyHash: strings.Repeat("ab", 32), Via: "qr", MUDURL: "https://mfg.example/camera.json"}

func TestDecide(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		when When
		fail Verdict
		want Decision
		// failed, if set, is a part of the failure's message.
		failed string
	}{
		{name: "allow", body: `echo '{"decision":"allow"}'`, want: Decision{Verdict: Allow}},
		{name: "deny with reason", body: `echo '{"decision":"deny","reason":"attestation: firmware revoked","ttl":60}'`,
			want: Decision{Verdict: Deny, Reason: "attestation: firmware revoked"}},
		{name: "segment", body: `echo '{"decision":"segment","segment":"guest","reason":"unknown maker"}'`,
			want: Decision{Verdict: Move, Segment: "guest", Reason: "unknown maker"}},
		{name: "reason cleaned", body: `printf '{"decision":"deny","reason":"a\\u001b[31mb\\nc"}'`,
			want: Decision{Verdict: Deny, Reason: "a [31mb c"}},
		{name: "segment that does not exist", body: `echo '{"decision":"segment","segment":"lab"}'`,
			want: Decision{Verdict: Deny}, failed: `named segment "lab", which does not exist`},
		{name: "segment without name", body: `echo '{"decision":"segment"}'`,
			want: Decision{Verdict: Deny}, failed: "without naming one"},
		{name: "allow naming a segment", body: `echo '{"decision":"allow","segment":"guest"}'`,
			want: Decision{Verdict: Deny}, failed: `want decision "segment"`},
		{name: "unknown decision", body: `echo '{"decision":"maybe"}'`,
			want: Decision{Verdict: Deny}, failed: `decided "maybe"`},
		{name: "no decision", body: `echo '{"desicion":"allow"}'`,
			want: Decision{Verdict: Deny}, failed: `decided ""`},
		{name: "not JSON", body: `echo allow`, want: Decision{Verdict: Deny}, failed: "did not answer JSON"},
		{name: "exit status", body: "echo 'cannot reach attestation.example' >&2; exit 3",
			want: Decision{Verdict: Deny}, failed: "exit status 3: cannot reach attestation.example"},
		{name: "too much", body: `head -c 70000 /dev/zero | tr '\0' ' '; echo '{"decision":"allow"}'`,
			want: Decision{Verdict: Deny}, failed: "said more than 65536 bytes"},
		{name: "fail open", body: "exit 1", fail: Allow, want: Decision{Verdict: Allow}, failed: "exit status 1"},
		{name: "periodic failure changes nothing", body: "exit 1", when: Periodic, want: Decision{Verdict: Allow}, failed: "exit status 1"},
		{name: "periodic deny", body: `echo '{"decision":"deny"}'`, when: Periodic, want: Decision{Verdict: Deny}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := script(t, tt.body)
			h.OnFailure = tt.fail
			when := tt.when
			if when == "" {
				when = Onboarding
			}
			got := h.Decide(context.Background(), Request{When: when, Device: camera})
			if tt.failed != "" {
				if got.Failed == nil || !strings.Contains(got.Failed.Error(), tt.failed) {
					t.Fatalf("Failed = %v, want it to say %q", got.Failed, tt.failed)
				}
				if got.Reason != got.Failed.Error() {
					t.Errorf("Reason = %q, want the failure", got.Reason)
				}
				got.Failed, got.Reason = nil, ""
			} else if got.Failed != nil {
				t.Fatalf("Failed = %v, want an answer", got.Failed)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoHookAllows(t *testing.T) {
	t.Parallel()
	h := &Hook{Path: filepath.Join(t.TempDir(), "none")}
	if got := h.Decide(context.Background(), Request{When: Onboarding}); got != (Decision{Verdict: Allow, NoHook: true}) {
		t.Fatalf("Decide = %+v, want allow without a hook", got)
	}
}

// TestHookIsToldWhatIsKnownAndNoMore checks the hook's input and
// environment: the device as JSON, nothing of the daemon's environment.
func TestHookIsToldWhatIsKnownAndNoMore(t *testing.T) {
	t.Setenv("TJ_TEST_SECRET", "hunter2")
	dir := t.TempDir()
	h := script(t, "cat > "+dir+"/stdin; env > "+dir+"/env; echo \"$1\" > "+dir+"/args; echo '{\"decision\":\"allow\"}'")
	if got := h.Decide(context.Background(), Request{When: Onboarding, Device: camera}); got.Verdict != Allow || got.Failed != nil {
		t.Fatalf("Decide = %+v", got)
	}
	b, err := os.ReadFile(dir + "/stdin")
	if err != nil {
		t.Fatal(err)
	}
	var in map[string]any
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatalf("stdin %q: %v", b, err)
	}
	want := map[string]any{"version": 1.0, "when": "onboarding", "device": map[string]any{
		"id": "d1", "name": "camera", "macs": []any{"02:00:00:00:00:01"}, "segment": "iot",
		"dpp_key_hash": strings.Repeat("ab", 32), "via": "qr", "mud_url": "https://mfg.example/camera.json"}}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Fatalf("hook's input (-want +got):\n%s", diff)
	}
	env, _ := os.ReadFile(dir + "/env")
	if strings.Contains(string(env), "hunter2") {
		t.Fatalf("the daemon's environment reached the hook:\n%s", env)
	}
	if !strings.Contains(string(env), "TRUSTJOIN_HOOK=authorize") {
		t.Fatalf("hook's environment lacks TRUSTJOIN_HOOK:\n%s", env)
	}
	if args, _ := os.ReadFile(dir + "/args"); string(args) != "onboarding\n" {
		t.Fatalf("hook's argument = %q, want onboarding", args)
	}
}

func TestUnsafeHookIsNotRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	h := script(t, "touch "+ran+"; echo '{\"decision\":\"allow\"}'")
	if err := os.Chmod(h.Path, 0o722); err != nil {
		t.Fatal(err)
	}
	got := h.Decide(context.Background(), Request{When: Onboarding, Device: camera})
	if !errors.Is(got.Failed, ErrUnsafe) || got.Verdict != Deny {
		t.Fatalf("Decide = %+v, want an unsafe hook refused, failing closed", got)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("an unsafe hook was run")
	}
	// Another owner is refused too.
	if err := os.Chmod(h.Path, 0o700); err != nil {
		t.Fatal(err)
	}
	h.Owner = os.Getuid() + 1
	if got := h.Decide(context.Background(), Request{When: Onboarding}); !errors.Is(got.Failed, ErrUnsafe) {
		t.Fatalf("Decide = %+v, want a hook of another user refused", got)
	}
}

// TestTimeoutKillsTheHookAndItsChildren: a hook stuck on a network call
// is given up on, and what it started does not outlive it.
func TestTimeoutKillsTheHookAndItsChildren(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := script(t, "sleep 300 & echo $! > "+dir+"/child; wait")
	h.Timeout = 300 * time.Millisecond
	got := h.Decide(context.Background(), Request{When: Onboarding, Device: camera})
	if got.Failed == nil || !strings.Contains(got.Failed.Error(), "gave no answer within 300ms") || got.Verdict != Deny {
		t.Fatalf("Decide = %+v, want a timeout failing closed", got)
	}
	b, err := os.ReadFile(dir + "/child")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// Killed: gone, or a zombie waiting for init to reap it. SIGKILL
	// takes effect when the child is next scheduled, which on a loaded
	// machine is not at once (CI saw it still R right after Decide).
	var st []byte
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if f := strings.Fields(string(st)); len(f) > 2 && f[2] == "Z" {
			return
		}
		if time.Now().After(deadline) {
			break
		}
	}
	t.Fatalf("the hook's child %d still runs 5 s after the timeout: %s", pid, st)
}

func TestRecheck(t *testing.T) {
	t.Parallel()
	// The hook denies d2 and moves d3; d1 is allowed, d4 already there.
	h := script(t, `read -r in
case "$in" in
*'"id":"d2"'*) echo '{"decision":"deny","reason":"revoked"}';;
*'"id":"d3"'*|*'"id":"d4"'*) echo '{"decision":"segment","segment":"guest"}';;
*) echo '{"decision":"allow"}';;
esac`)
	var acted []string
	p := &Recheck{Hook: h,
		Devices: func() []Device {
			return []Device{{ID: "d1", Segment: "iot"}, {ID: "d2", Segment: "iot"}, {ID: "d3", Segment: "iot"}, {ID: "d4", Segment: "guest"}}
		},
		Act: func(_ context.Context, d Device, dec Decision) {
			acted = append(acted, d.ID+":"+string(dec.Verdict)+":"+dec.Segment+":"+dec.Reason)
		},
		Failed: func(err error) { t.Errorf("Failed(%v)", err) },
	}
	p.Round(context.Background())
	if diff := cmp.Diff([]string{"d2:deny::revoked", "d3:segment:guest:"}, acted); diff != "" {
		t.Fatalf("acted on (-want +got):\n%s", diff)
	}

	// A broken hook changes nothing and is reported once a round.
	broken := script(t, "exit 1")
	var failures int
	acted = nil
	p.Hook, p.Failed = broken, func(error) { failures++ }
	p.Round(context.Background())
	if len(acted) != 0 || failures != 1 {
		t.Fatalf("with a broken hook: acted on %v, %d failures reported; want nothing and 1", acted, failures)
	}
	if slices.Contains(acted, "d1") {
		t.Fatal("unreachable")
	}
}
