package mud

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// hostName checks a DNS name as a MUD file gives it (ietf-acldns, an
// inet:host): what DNS cannot carry is refused, so a name never quietly
// means something else. It returns the name lower-cased without a final
// dot and, for an internationalised name, its Unicode form: A-labels
// (xn--) are the only form accepted, and the Unicode is shown to whoever
// judges the file, since letters from other scripts can look alike.
func hostName(s string) (name, unicodeForm string, err error) {
	for _, r := range s {
		switch {
		case r == '*':
			return "", "", errors.New("a wildcard is not a name a device can resolve; name each host")
		case r < 0x20 || r == 0x7f:
			return "", "", fmt.Errorf("contains the control character %U (NUL, tab, newline and the like cannot be in a DNS name)", r)
		case r == ' ':
			return "", "", errors.New("contains a space")
		case r >= utf8.RuneSelf:
			return "", "", fmt.Errorf("contains the non-ASCII character %q: write internationalised names in their A-label (xn--) form", r)
		}
	}
	name = strings.ToLower(strings.TrimSuffix(s, "."))
	if name == "" {
		return "", "", errors.New("empty name")
	}
	if len(name) > 253 {
		return "", "", fmt.Errorf("%d characters, more than the 253 a DNS name can have", len(name))
	}
	labels := strings.Split(name, ".")
	var uni []string
	idn := false
	for _, l := range labels {
		if l == "" {
			return "", "", errors.New("has an empty label (two dots in a row)")
		}
		if len(l) > 63 {
			return "", "", fmt.Errorf("label %.20q… is %d characters, more than the 63 DNS allows", l, len(l))
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", "", fmt.Errorf("label %q has %q, which is not a letter, digit, hyphen or underscore", l, c)
			}
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", "", fmt.Errorf("label %q starts or ends with a hyphen", l)
		}
		if rest, ok := strings.CutPrefix(l, "xn--"); ok {
			u, err := punyDecode(rest)
			if err != nil {
				return "", "", fmt.Errorf("label %q is not a valid A-label: %v", l, err)
			}
			uni = append(uni, u)
			idn = true
			continue
		}
		uni = append(uni, l)
	}
	if idn {
		unicodeForm = strings.Join(uni, ".")
	}
	return name, unicodeForm, nil
}

// punyDecode decodes the part of an A-label after "xn--" (RFC 3492).
func punyDecode(s string) (string, error) {
	const (
		base, tmin, tmax = 36, 1, 26
		skew, damp       = 38, 700
		initialBias      = 72
		initialN         = 128
	)
	var out []rune
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		for _, c := range s[:i] {
			out = append(out, c)
		}
		s = s[i+1:]
	}
	n, bias, i := rune(initialN), int32(initialBias), int32(0)
	adapt := func(delta, points int32, first bool) int32 {
		if first {
			delta /= damp
		} else {
			delta /= 2
		}
		delta += delta / points
		k := int32(0)
		for delta > ((base-tmin)*tmax)/2 {
			delta /= base - tmin
			k += base
		}
		return k + (base-tmin+1)*delta/(delta+skew)
	}
	for pos := 0; pos < len(s); {
		oldi, w := i, int32(1)
		for k := int32(base); ; k += base {
			if pos >= len(s) {
				return "", errors.New("ends in the middle of a code point")
			}
			c := s[pos]
			pos++
			var digit int32
			switch {
			case c >= 'a' && c <= 'z':
				digit = int32(c - 'a')
			case c >= '0' && c <= '9':
				digit = int32(c-'0') + 26
			default:
				return "", fmt.Errorf("%q is not a punycode digit", c)
			}
			if digit > (math.MaxInt32-i)/w {
				return "", errors.New("overflow")
			}
			i += digit * w
			t := k - bias
			if t < tmin {
				t = tmin
			} else if t > tmax {
				t = tmax
			}
			if digit < t {
				break
			}
			if w > math.MaxInt32/(base-t) {
				return "", errors.New("overflow")
			}
			w *= base - t
		}
		points := int32(len(out) + 1)
		bias = adapt(i-oldi, points, oldi == 0)
		if i/points > math.MaxInt32-int32(n) {
			return "", errors.New("overflow")
		}
		n += rune(i / points)
		i %= points
		if n > unicode.MaxRune || (n >= 0xd800 && n <= 0xdfff) {
			return "", errors.New("not a Unicode code point")
		}
		out = append(out[:i], append([]rune{n}, out[i:]...)...)
		i++
	}
	if len(out) == 0 {
		return "", errors.New("empty")
	}
	return string(out), nil
}
