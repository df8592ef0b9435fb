package devname

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Max is the longest name, in characters.
const Max = 64

// ErrInvalid: the name is not one trustjoin keeps.
var ErrInvalid = errors.New("invalid device name")

type nameError string

func (e nameError) Error() string        { return string(e) }
func (e nameError) Is(target error) bool { return target == ErrInvalid }

// Check reports whether name may name a device. Its error (an ErrInvalid)
// says in plain words what is wrong. An empty name is refused: callers
// that allow "no name" test for it first.
func Check(name string) error {
	switch {
	case name == "":
		return nameError("the name is empty")
	case !utf8.ValidString(name):
		return nameError("the name is not valid UTF-8 text")
	case utf8.RuneCountInString(name) > Max:
		return nameError(fmt.Sprintf("the name is too long: at most %d characters", Max))
	}
	for _, r := range name {
		if bad(r) {
			return nameError(fmt.Sprintf("the name holds a control character (%U); use letters, digits, spaces and punctuation", r))
		}
	}
	switch {
	case strings.TrimSpace(name) != name:
		return nameError("the name starts or ends with a space")
	case name == "." || name == "..":
		return nameError(fmt.Sprintf("%q cannot be a name", name))
	}
	return nil
}

// bad reports characters no name may hold: control characters (C0, DEL,
// C1), line and paragraph separators, and the invisible marks that change
// the order text is shown in (bidirectional overrides, isolates, marks).
func bad(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f',
		r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// FromDevice makes a name out of what a device says about itself (the I:
// field of its QR code): the characters Check refuses dropped, spaces
// trimmed, cut to Max characters. It returns "" when nothing is left.
func FromDevice(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(s, "") {
		if bad(r) {
			continue
		}
		if n == Max {
			break
		}
		b.WriteRune(r)
		n++
	}
	out := strings.TrimSpace(b.String())
	if out == "." || out == ".." {
		return ""
	}
	return out
}

// Escape returns s fit to print on a terminal or in a table: every
// character Check refuses in a name is shown escaped (\n, \x1b, \u202e),
// as is the backslash, so what is shown cannot be mistaken for what is
// not there. Names stored before names were checked, and text that never
// was a name (a URL from DHCP, a registrar's host name), print through it.
func Escape(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return bad(r) || r == '\\' || r == utf8.RuneError }) < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				fmt.Fprintf(&b, `\x%02x`, s[i])
				continue
			}
			b.WriteRune(r)
		case r == '\\':
			b.WriteString(`\\`)
		case bad(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
