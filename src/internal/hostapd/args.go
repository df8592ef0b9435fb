package hostapd

import (
	"errors"
	"fmt"
	"strings"
)

// ErrArgument: a value cannot be handed to hostapd as the one argument it
// is meant to be. hostapd reads commands as C strings and finds most
// parameters by searching the whole command for " name=" (DPP_PKEX_ADD
// looks for " init=1", " tcp_addr=", " identifier=", " ver=" anywhere in
// it), so a space, a NUL or a line break inside a value could end it early
// or add a parameter of the sender's choosing.
var ErrArgument = errors.New("not a value hostapd can take")

// argError says in plain words what is wrong with a value; it is an
// ErrArgument.
type argError string

func (e argError) Error() string        { return string(e) }
func (e argError) Is(target error) bool { return target == ErrArgument }

func argErrorf(format string, args ...any) error { return argError(fmt.Sprintf(format, args...)) }

// PKEX code and identifier bounds. Wi-Fi Easy Connect asks for codes of at
// least six characters; labels print far fewer than 64.
const (
	MinPKEXCode       = 6
	MaxPKEXCode       = 64
	MaxPKEXIdentifier = 64
)

// maxText bounds a value that runs to the end of its command (a DPP URI);
// hostapd's control buffer is 4 KiB.
const maxText = 1024

// word reports the first character of v that cannot stand in one word of a
// hostapd command: printable ASCII without the space.
func word(v string) (rune, bool) {
	for _, r := range v {
		if r <= ' ' || r > '~' {
			return r, false
		}
	}
	return 0, true
}

// text reports the first character of v that cannot stand in a value that
// runs to the end of its command: printable ASCII, spaces allowed.
func text(v string) (rune, bool) {
	for _, r := range v {
		if r < ' ' || r > '~' {
			return r, false
		}
	}
	return 0, true
}

// describe names a character for people: "a space", "a control character
// (U+0000)", "é".
func describe(r rune) string {
	switch {
	case r == ' ':
		return "a space"
	case r < ' ' || r == 0x7f || r >= 0x80 && r < 0xa0:
		return fmt.Sprintf("a control character (%U)", r)
	case r == 0xfffd:
		return "a byte that is not UTF-8"
	}
	return fmt.Sprintf("%q", r)
}

// CheckPKEXCode checks a PKEX code as printed on a device: 6 to 64
// letters, digits or punctuation (printable ASCII), no spaces. Its error
// (an ErrArgument) is plain language for the householder.
func CheckPKEXCode(code string) error {
	if len(code) < MinPKEXCode || len(code) > MaxPKEXCode {
		return argErrorf("the PKEX code must be %d to %d characters", MinPKEXCode, MaxPKEXCode)
	}
	if r, ok := word(code); !ok {
		return argErrorf("the PKEX code holds %s; it may hold only letters, digits and punctuation, without spaces", describe(r))
	}
	return nil
}

// CheckPKEXIdentifier checks a PKEX identifier: empty (none), or up to 64
// letters, digits or punctuation, no spaces.
func CheckPKEXIdentifier(id string) error {
	if len(id) > MaxPKEXIdentifier {
		return argErrorf("the PKEX identifier must be at most %d characters", MaxPKEXIdentifier)
	}
	if r, ok := word(id); !ok {
		return argErrorf("the PKEX identifier holds %s; it must be one word of letters, digits and punctuation", describe(r))
	}
	return nil
}

// checkID checks an object id hostapd handed out (bootstrap, PKEX,
// configurator): a decimal number.
func checkID(what, id string) error {
	if id == "" || len(id) > 10 || strings.Trim(id, "0123456789") != "" {
		return argErrorf("%s id %q is not a number", what, id)
	}
	return nil
}

// PKEXAdd builds DPP_PKEX_ADD for the bootstrap entry own (from
// DPP_BOOTSTRAP_GEN type=pkex), with identifier (empty for none) and code,
// each checked to reach hostapd as itself and nothing more. The code goes
// last: hostapd takes everything after " code=" as the code.
func PKEXAdd(own, identifier, code string) (string, error) {
	if err := checkID("bootstrap", own); err != nil {
		return "", err
	}
	if err := CheckPKEXIdentifier(identifier); err != nil {
		return "", err
	}
	if err := CheckPKEXCode(code); err != nil {
		return "", err
	}
	cmd := "DPP_PKEX_ADD own=" + own
	if identifier != "" {
		cmd += " identifier=" + identifier
	}
	return cmd + " code=" + code, nil
}

// QRCode builds DPP_QR_CODE for a device's bootstrapping URI. hostapd takes
// the rest of the command as the URI, so spaces may stand (a URI's I: field
// has them) but nothing outside printable ASCII.
func QRCode(uri string) (string, error) {
	if !strings.HasPrefix(uri, "DPP:") || len(uri) > maxText {
		return "", argErrorf("not a DPP URI of at most %d characters", maxText)
	}
	if r, ok := text(uri); !ok {
		return "", argErrorf("the DPP URI holds %s", describe(r))
	}
	return "DPP_QR_CODE " + uri, nil
}

// checkCommand is the last check before a command leaves for hostapd,
// whoever built it: nothing but printable ASCII, so no NUL cuts it short and
// no line break starts another.
func checkCommand(cmd string) error {
	if r, ok := text(cmd); !ok {
		return argErrorf("the command holds %s", describe(r))
	}
	return nil
}
