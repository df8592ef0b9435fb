package web

import (
	"fmt"
	"html"
	"strings"
)

// The pages are filled in by hand rather than with html/template: its
// reflection keeps every exported method in the binary, megabytes on a
// router. The pages are small and fixed: {{NAME}} placeholders are
// replaced with escaped text, <!--name-->…<!--/name--> blocks are kept or
// cut whole.

// render fills in the embedded page name.
func render(name string, vars map[string]string, blocks map[string]bool) ([]byte, error) {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		return nil, err
	}
	s := string(b)
	for block, keep := range blocks {
		open, end := "<!--"+block+"-->", "<!--/"+block+"-->"
		for {
			i := strings.Index(s, open)
			if i < 0 {
				break
			}
			j := strings.Index(s[i:], end)
			if j < 0 {
				return nil, fmt.Errorf("page %s: block %s is not closed", name, block)
			}
			j += i
			if keep {
				s = s[:i] + s[i+len(open):j] + s[j+len(end):]
			} else {
				s = s[:i] + s[j+len(end):]
			}
		}
	}
	// One pass: text put in is never read again as a placeholder.
	var pairs []string
	for k, v := range vars {
		pairs = append(pairs, "{{"+k+"}}", html.EscapeString(v))
	}
	for rest := s; ; {
		i := strings.Index(rest, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("page %s: unclosed placeholder", name)
		}
		if _, ok := vars[rest[i+2:i+j]]; !ok {
			return nil, fmt.Errorf("page %s: no value for %s", name, rest[i:i+j+2])
		}
		rest = rest[i+j+2:]
	}
	s = strings.NewReplacer(pairs...).Replace(s)
	return []byte(s), nil
}
