package fault

import (
	"errors"
	"fmt"
)

// Kind is what sort of failure an error is, for the layer that answers.
type Kind int

// The kinds. Internal is anything else: a fault of the system, logged and
// answered generically.
const (
	Internal Kind = iota
	// Invalid: the request is malformed or names something that does not
	// exist in the configuration (a segment, an access point).
	Invalid
	// NotFound: the device, request or entry does not exist.
	NotFound
	// Conflict: the request clashes with the current state, e.g. a second
	// PKEX code while one is waiting on the same access point.
	Conflict
	// Unavailable: a part needed is not there, e.g. no access point with
	// DPP, or MUD turned off.
	Unavailable
	// Forbidden: the one asking may not do this, e.g. a phone link
	// onboarding a device the household already has.
	Forbidden
)

// String is the kind in words, as the local API prefixes its messages.
func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid request"
	case NotFound:
		return "not found"
	case Conflict:
		return "conflict"
	case Unavailable:
		return "unavailable"
	case Forbidden:
		return "forbidden"
	}
	return "internal error"
}

// Error is an error of a known kind with a message for people.
type Error struct {
	Kind Kind
	// Msg says what is wrong and, where it helps, what to do, in plain
	// language; it never holds a secret.
	Msg string
}

func (e *Error) Error() string { return e.Msg }

// New returns an Error of kind k with a message formatted as fmt.Sprintf
// does.
func New(k Kind, format string, a ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, a...)}
}

// KindOf is the kind of the first Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is an Error of kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
