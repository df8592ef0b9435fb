package web

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/trustjoin/trustjoin/src/internal/qr"
)

// qrDataURL draws text as a QR code, an SVG data URL for an <img>. SVG
// rather than PNG: one path of dark modules, a few kilobytes, sharp at
// any size, and the binary needs no PNG encoder.
func qrDataURL(text string) (string, error) {
	q, err := qr.New(text)
	if err != nil {
		return "", err
	}
	n := q.Size + 2*qr.Quiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="320" height="320" shape-rendering="crispEdges">`, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y := 0; y < n; y++ {
		dark := func(x int) bool { return q.Dark(x-qr.Quiet, y-qr.Quiet) }
		for x := 0; x < n; {
			if !dark(x) {
				x++
				continue
			}
			start := x
			for x < n && dark(x) {
				x++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", start, y, x-start, x-start)
		}
	}
	b.WriteString(`"/></svg>`)
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(b.String())), nil
}
