package authorize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
	"unicode"
)

// DefaultPath is where the hook lives on a router.
const DefaultPath = "/etc/trustjoin/hooks/authorize"

// When says why the hook is asked.
type When string

// The occasions the hook is asked on.
const (
	// Onboarding: before the device is given a credential.
	Onboarding When = "onboarding"
	// Periodic: again, while the device has its credential.
	Periodic When = "periodic"
)

// Device is what is known of a device, as the hook is told it. Nothing
// here is secret: no passphrase, no PSK, no private key, no token.
type Device struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	// MACs are the addresses it connected from, if it has.
	MACs []string `json:"macs,omitempty"`
	// Segment is where it is, or where it would go.
	Segment string `json:"segment"`
	// DPPKeyHash is the SHA-256 (hex) of its DPP bootstrapping public key.
	DPPKeyHash string `json:"dpp_key_hash,omitempty"`
	// Via is how it is being onboarded: qr, pkex, chirp, legacy, brski.
	Via string `json:"via,omitempty"`
	// MUDURL is its MUD URL; MUDSigner names who signed its MUD file
	// (the signing certificate's subject) when the signature verified;
	// MUDStatus is where its MUD policy stands.
	MUDURL    string `json:"mud_url,omitempty"`
	MUDSigner string `json:"mud_signer,omitempty"`
	MUDStatus string `json:"mud_status,omitempty"`
	// Address is a BRSKI pledge's address, with its join interface as
	// the zone: the join proxy sees no more of it (its enrolment is TLS
	// from end to end).
	Address string `json:"address,omitempty"`
	// BRSKISerial is the pledge's serial number, when trustjoin proxied
	// its BRSKI enrolment.
	BRSKISerial string `json:"brski_serial,omitempty"`
	// State is where the device is in its life (registry states).
	State string `json:"state,omitempty"`
}

// Request is the hook's standard input.
type Request struct {
	// Version is the format's version: 1.
	Version int    `json:"version"`
	When    When   `json:"when"`
	Device  Device `json:"device"`
}

// Verdict is the hook's answer.
type Verdict string

// The verdicts.
const (
	Allow Verdict = "allow"
	Deny  Verdict = "deny"
	// Move puts the device in the segment the hook names.
	Move Verdict = "segment"
)

// Decision is what the hook decided, or what a failure means.
type Decision struct {
	Verdict Verdict
	// Segment is where to put the device, for Move.
	Segment string
	// Reason is the hook's own words (cleaned of control characters), or
	// why it failed.
	Reason string
	// Failed says the hook could not answer; Verdict is then the
	// configured choice (at onboarding) or Allow (periodic: nothing
	// changes).
	Failed error
	// NoHook says there is no hook: everything is allowed.
	NoHook bool
}

// Limits on what a hook may say and take.
const (
	DefaultTimeout = 10 * time.Second
	maxOutput      = 64 << 10
	maxStderr      = 2 << 10
	maxReason      = 200
)

// Hook runs the authorisation hook.
type Hook struct {
	// Path is the program; empty means DefaultPath.
	Path string
	// Timeout bounds one answer; zero means DefaultTimeout.
	Timeout time.Duration
	// OnFailure is the verdict when the hook fails before a credential is
	// given: Deny (fail closed, the default) or Allow (fail open).
	OnFailure Verdict
	// Segment says whether a segment name exists; a hook naming another
	// has failed. Nil accepts any name.
	Segment func(name string) bool
	// Owner is the user the hook must belong to; root unless a test says
	// otherwise.
	Owner int
}

// ErrUnsafe reports a hook others could change: it would run as root.
var ErrUnsafe = errors.New("unsafe hook")

// Decide asks the hook about a device.
func (h *Hook) Decide(ctx context.Context, r Request) Decision {
	r.Version = 1
	v, err := h.ask(ctx, r)
	switch {
	case errors.Is(err, errNoHook):
		return Decision{Verdict: Allow, NoHook: true}
	case err != nil:
		d := Decision{Verdict: h.onFailure(), Failed: err, Reason: err.Error()}
		if r.When == Periodic {
			d.Verdict = Allow
		}
		return d
	}
	return v
}

func (h *Hook) onFailure() Verdict {
	if h.OnFailure == Allow {
		return Allow
	}
	return Deny
}

func (h *Hook) path() string {
	if h.Path == "" {
		return DefaultPath
	}
	return h.Path
}

var errNoHook = errors.New("no hook")

// check refuses a hook anyone but its owner could change: it runs as
// root with what it says deciding who joins the network.
func (h *Hook) check() error {
	fi, err := os.Stat(h.path())
	if errors.Is(err, fs.ErrNotExist) {
		return errNoHook
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrUnsafe, h.path())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s is writable by others than its owner (mode %#o)", ErrUnsafe, h.path(), fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != h.Owner {
		return fmt.Errorf("%w: %s belongs to uid %d, not %d", ErrUnsafe, h.path(), st.Uid, h.Owner)
	}
	if fi.Mode().Perm()&0o100 == 0 {
		return fmt.Errorf("%s is not executable", h.path())
	}
	return nil
}

// answer is the hook's standard output. Keys trustjoin does not know are
// ignored, so hooks can carry their own.
type answer struct {
	Decision Verdict `json:"decision"`
	Segment  string  `json:"segment"`
	Reason   string  `json:"reason"`
}

func (h *Hook) ask(ctx context.Context, r Request) (Decision, error) {
	if err := h.check(); err != nil {
		return Decision{}, err
	}
	in, err := json.Marshal(r)
	if err != nil {
		return Decision{}, err
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.path(), string(r.When))
	// A clean environment: the daemon's own holds nothing for the hook.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TRUSTJOIN_HOOK=authorize"}
	cmd.Stdin = bytes.NewReader(in)
	out := &capped{max: maxOutput}
	errOut := &capped{max: maxStderr}
	cmd.Stdout, cmd.Stderr = out, errOut
	killGroup(cmd)
	err = cmd.Run()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return Decision{}, fmt.Errorf("hook %s gave no answer within %v", h.path(), timeout)
	case err != nil:
		return Decision{}, fmt.Errorf("hook %s failed: %v%s", h.path(), err, stderrNote(errOut))
	case out.over:
		return Decision{}, fmt.Errorf("hook %s said more than %d bytes", h.path(), maxOutput)
	}
	var a answer
	if err := json.Unmarshal(out.b.Bytes(), &a); err != nil {
		return Decision{}, fmt.Errorf("hook %s did not answer JSON: %v", h.path(), err)
	}
	d := Decision{Verdict: a.Decision, Reason: clean(a.Reason)}
	switch a.Decision {
	case Allow, Deny:
		if a.Segment != "" {
			return Decision{}, fmt.Errorf("hook %s named segment %q with decision %q (want decision \"segment\")", h.path(), clean(a.Segment), a.Decision)
		}
	case Move:
		if a.Segment == "" {
			return Decision{}, fmt.Errorf("hook %s decided \"segment\" without naming one", h.path())
		}
		if h.Segment != nil && !h.Segment(a.Segment) {
			return Decision{}, fmt.Errorf("hook %s named segment %q, which does not exist", h.path(), clean(a.Segment))
		}
		d.Segment = a.Segment
	default:
		return Decision{}, fmt.Errorf("hook %s decided %q (want allow, deny or segment)", h.path(), clean(string(a.Decision)))
	}
	return d, nil
}

func stderrNote(c *capped) string {
	s := clean(strings.TrimSpace(c.b.String()))
	if s == "" {
		return ""
	}
	return ": " + s
}

// clean keeps what a hook says printable and short, for logs and pages.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > maxReason {
		s = string(r[:maxReason]) + "…"
	}
	return s
}

// capped keeps the first max bytes written and notes there were more.
type capped struct {
	b    bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); len(p) > room {
		c.over = true
		c.b.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.b.Write(p)
}

var _ io.Writer = (*capped)(nil)
