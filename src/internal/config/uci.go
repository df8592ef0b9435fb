package config

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// A Section is one "config <type> [<name>]" block of a UCI file, before
// any meaning is given to its options.
type Section struct {
	Type string
	// Name is the section's name; anonymous sections get UCI's
	// "@type[index]" form so errors can still point at them.
	Name      string
	Anonymous bool
	Line      int
	Options   []Option
}

// An Option is one "option" or "list" line. List options with the same name
// are merged into one Option with several Values, in file order.
type Option struct {
	Name   string
	Values []string
	List   bool
	Line   int
}

// maxUCISize bounds what ParseUCI reads: trustjoin's file is a few KiB, and
// a runaway file pushed by mistake must not exhaust a small router's RAM.
const maxUCISize = 1 << 20

// ParseUCI reads the UCI file syntax: "package", "config", "option" and
// "list" lines, '#' comments, and values that are bare words or single- or
// double-quoted strings (adjacent pieces concatenate, as in uci(1)).
func ParseUCI(r io.Reader) ([]Section, error) {
	var (
		sections []Section
		cur      *Section
		anon     = map[string]int{}
		named    = map[string]int{} // section name → its line
	)
	sc := bufio.NewScanner(io.LimitReader(r, maxUCISize+1))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	total := 0
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		total += len(line) + 1
		if total > maxUCISize {
			return nil, fmt.Errorf("line %d: file larger than %d bytes", n, maxUCISize)
		}
		words, err := splitUCILine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "package":
			// Only meaningful in "uci import" streams; harmless here.
			continue
		case "config":
			if len(words) < 2 || len(words) > 3 || words[1] == "" {
				return nil, fmt.Errorf("line %d: want: config <type> ['<name>']", n)
			}
			s := Section{Type: words[1], Line: n}
			if len(words) == 3 && words[2] != "" {
				if !validUCIName(words[2]) {
					return nil, fmt.Errorf("line %d: invalid section name %q: use letters, digits and _", n, words[2])
				}
				// uci merges sections of one name, whatever their type,
				// into one: two would mean one thing here and another
				// to uci (and LuCI, and an ACS).
				if first, ok := named[words[2]]; ok {
					return nil, fmt.Errorf("line %d: section %q is already defined on line %d (uci would merge the two): give each section a name of its own", n, words[2], first)
				}
				named[words[2]] = n
				s.Name = words[2]
			} else {
				s.Anonymous = true
				s.Name = fmt.Sprintf("@%s[%d]", s.Type, anon[s.Type])
				anon[s.Type]++
			}
			if !validUCIName(s.Type) {
				return nil, fmt.Errorf("line %d: invalid section type %q", n, s.Type)
			}
			sections = append(sections, s)
			cur = &sections[len(sections)-1]
		case "option", "list":
			if cur == nil {
				return nil, fmt.Errorf("line %d: %s outside of a config section", n, words[0])
			}
			if len(words) != 3 {
				return nil, fmt.Errorf("line %d: want: %s <name> '<value>'", n, words[0])
			}
			name, value, isList := words[1], words[2], words[0] == "list"
			if !validUCIName(name) {
				return nil, fmt.Errorf("line %d: invalid option name %q", n, name)
			}
			if err := cur.add(name, value, isList, n); err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
		default:
			return nil, fmt.Errorf("line %d: unknown keyword %q (want config, option or list)", n, words[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("failed to read: %v", err)
	}
	return sections, nil
}

func (s *Section) add(name, value string, isList bool, line int) error {
	for i := range s.Options {
		o := &s.Options[i]
		if o.Name != name {
			continue
		}
		if o.List != isList {
			return fmt.Errorf("%q is used both as option and as list", name)
		}
		if !isList {
			// uci(1) lets a later option line win; a file trustjoin reads
			// should not say one thing twice, so say so.
			return fmt.Errorf("option %q is set twice (first on line %d)", name, o.Line)
		}
		o.Values = append(o.Values, value)
		return nil
	}
	s.Options = append(s.Options, Option{Name: name, Values: []string{value}, List: isList, Line: line})
	return nil
}

func validUCIName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// splitUCILine splits a line into words the way uci's parser does: white
// space separates words, quotes group, '#' outside quotes starts a comment,
// and a backslash escapes the next character outside single quotes.
func splitUCILine(line string) ([]string, error) {
	var (
		words   []string
		b       strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range line {
		switch {
		case escaped:
			b.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				b.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				b.WriteRune(r)
			}
		case r == '\\':
			inWord, escaped = true, true
		case r == '\'' || r == '"':
			inWord, quote = true, r
		case r == '#' && !inWord:
			return flush(words, &b, inWord), nil
		case r == ' ' || r == '\t' || r == '\r':
			words = flush(words, &b, inWord)
			inWord = false
		default:
			inWord = true
			b.WriteRune(r)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if escaped {
		return nil, fmt.Errorf("line ends with a backslash")
	}
	return flush(words, &b, inWord), nil
}

func flush(words []string, b *strings.Builder, inWord bool) []string {
	if inWord {
		words = append(words, b.String())
	}
	b.Reset()
	return words
}
