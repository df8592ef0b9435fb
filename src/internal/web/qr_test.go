package web

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trustjoin/trustjoin/src/internal/qr"
)

// TestQRDataURL draws codes and reads the modules back from the SVG's
// path: they must be exactly the code's, with its quiet zone (the browser
// tests decode the image itself with jsQR).
func TestQRDataURL(t *testing.T) {
	for _, text := range []string{
		"http://192.168.1.1:8099/p/AAAAAAAAAAAAAAAAAAAAAAAA",
		`WIFI:T:WPA;S:Home \;net;P:p4ss\:w0rd;;`,
		strings.Repeat("x", 300),
	} {
		url, err := qrDataURL(text)
		if err != nil {
			t.Fatal(err)
		}
		const prefix = "data:image/svg+xml;base64,"
		if !strings.HasPrefix(url, prefix) {
			t.Fatalf("%.40q is not an SVG data URL", url)
		}
		svg, err := base64.StdEncoding.DecodeString(url[len(prefix):])
		if err != nil {
			t.Fatal(err)
		}
		q, err := qr.New(text)
		if err != nil {
			t.Fatal(err)
		}
		n := q.Size + 2*qr.Quiet
		want := make([][]bool, n)
		for y := range want {
			want[y] = make([]bool, n)
			for x := range want[y] {
				want[y][x] = q.Dark(x-qr.Quiet, y-qr.Quiet)
			}
		}
		if !strings.Contains(string(svg), fmt.Sprintf(`viewBox="0 0 %d %d"`, n, n)) {
			t.Fatalf("viewBox is not %d modules: %.200s", n, svg)
		}
		got := make([][]bool, n)
		for i := range got {
			got[i] = make([]bool, n)
		}
		d := regexp.MustCompile(` d="([^"]*)"`).FindSubmatch(svg)
		if d == nil {
			t.Fatalf("no path in %.200s", svg)
		}
		runs := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)
		if rest := runs.ReplaceAllString(string(d[1]), ""); rest != "" {
			t.Fatalf("path has more than runs of modules: %.80q", rest)
		}
		for _, m := range runs.FindAllStringSubmatch(string(d[1]), -1) {
			var x, y, w, back int
			fmt.Sscan(m[1]+" "+m[2]+" "+m[3]+" "+m[4], &x, &y, &w, &back)
			if w != back || y >= n || x+w > n {
				t.Fatalf("run %q is not a row of modules inside the code", m[0])
			}
			for i := x; i < x+w; i++ {
				got[y][i] = true
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q: modules differ (-want +got):\n%s", text, diff)
		}
	}
}
