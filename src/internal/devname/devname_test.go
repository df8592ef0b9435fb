package devname_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trustjoin/trustjoin/src/internal/devname"
)

func TestCheck(t *testing.T) {
	for name, want := range map[string]string{
		"Kitchen camera":              "",
		"Küchenkamera – Nord":         "",
		"カメラ":                         "",
		strings.Repeat("é", 64):       "",
		"":                            "empty",
		strings.Repeat("x", 65):       "too long",
		strings.Repeat("é", 65):       "too long",
		"camera\nd-1  iot  connected": "control character (U+000A)",
		"\x1b[2Jcamera":               "control character (U+001B)",
		"cam\x00era":                  "control character (U+0000)",
		"cam\u0085era":                "control character (U+0085)",
		"cam\u202eare":                "control character (U+202E)",
		"cam\u2028era":                "control character (U+2028)",
		" camera":                     "starts or ends with a space",
		"camera\u00a0":                "starts or ends with a space",
		"camera\t":                    "control character (U+0009)",
		"..":                          "cannot be a name",
		"cam\xffera":                  "not valid UTF-8",
	} {
		err := devname.Check(name)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", name, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, devname.ErrInvalid)):
			t.Errorf("%q: got %v, want an ErrInvalid saying %q", name, err, want)
		}
	}
}

func TestFromDevice(t *testing.T) {
	for in, want := range map[string]string{
		"Camera X100":            "Camera X100",
		" \x1b[31mred\x1b[0m ":   "[31mred[0m",
		strings.Repeat("a", 300): strings.Repeat("a", 64),
		"\n\t":                   "",
		".":                      "",
	} {
		if got := devname.FromDevice(in); got != want {
			t.Errorf("FromDevice(%q) = %q, want %q", in, got, want)
		}
	}
}

// What Check accepts is bounded, valid text without control characters;
// what FromDevice makes, Check accepts (or it is empty).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"Kitchen camera", "a\nb", "\x1b[2J", "\u202e", strings.Repeat("x", 70), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if devname.Check(s) == nil {
			if !utf8.ValidString(s) || utf8.RuneCountInString(s) > devname.Max || strings.ContainsAny(s, "\x00\n\r\x1b\x7f") {
				t.Fatalf("accepted %q", s)
			}
		}
		if n := devname.FromDevice(s); n != "" && devname.Check(n) != nil {
			t.Fatalf("FromDevice(%q) = %q, which Check refuses: %v", s, n, devname.Check(n))
		}
		// Escaped, anything prints as valid text without a control character.
		if e := devname.Escape(s); !utf8.ValidString(e) || strings.ContainsFunc(e, func(r rune) bool { return r < ' ' || r >= 0x7f && r < 0xa0 || r >= 0x2028 && r <= 0x202e }) {
			t.Fatalf("Escape(%q) = %q", s, e)
		}
	})
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"Kitchen camera": "Kitchen camera",
		"cam\nd-1  iot":  `cam\nd-1  iot`,
		"\x1b[2Jcam\x07": `\x1b[2Jcam\a`,
		"a\\nb":          `a\\nb`,
		"cam\u202eera":   `cam\u202eera`,
		"caf\xe9":        `caf\xe9`,
		"Küche\u0085":    `Küche\u0085`,
	} {
		if got := devname.Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}
