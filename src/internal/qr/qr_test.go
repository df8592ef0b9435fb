package qr

import (
	"strings"
	"testing"

	"github.com/skip2/go-qrcode"
)

// capacity is the longest text of a version, in bytes.
func capacity(ver int) int {
	return (8*dataCodewords(ver) - 4 - countBits(ver)) / 8
}

// text is n bytes that a general encoder also puts in byte mode (no
// digits or upper case, which it would put in other modes).
func text(n int) string {
	const chars = "trustjoin, a router's way to add devices: qr-codes!"
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(chars[(i*7+i/len(chars))%len(chars)])
	}
	return b.String()
}

// reference is go-qrcode's symbol for s, quiet zone removed.
func reference(t *testing.T, s string) [][]bool {
	t.Helper()
	q, err := qrcode.New(s, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	bm := q.Bitmap()
	out := bm[Quiet : len(bm)-Quiet]
	for i := range out {
		out[i] = out[i][Quiet : len(out[i])-Quiet]
	}
	return out
}

func same(c *Code, want [][]bool) bool {
	if c.Size != len(want) {
		return false
	}
	for y := range want {
		for x := range want[y] {
			if c.Dark(x, y) != want[y][x] {
				return false
			}
		}
	}
	return true
}

// Every version, at its capacity and one byte over the previous one's:
// the symbol is module for module a general encoder's, with the same mask
// (mask choice aside, that covers the tables, error correction,
// interleaving, placement, format and version information).
func TestAgainstReference(t *testing.T) {
	for ver := 1; ver <= 40; ver++ {
		lengths := []int{capacity(ver)}
		if ver > 1 {
			lengths = append(lengths, capacity(ver-1)+1)
		}
		for _, n := range lengths {
			s := text(n)
			want := reference(t, s)
			if got := 4*ver + 17; len(want) != got {
				t.Fatalf("%d bytes: the reference chose %d modules, want version %d's %d", n, len(want), ver, got)
			}
			found := false
			for m := range 8 {
				c, err := encode(s, m)
				if err != nil {
					t.Fatal(err)
				}
				found = found || same(c, want)
			}
			if !found {
				t.Errorf("version %d, %d bytes: no mask gives the reference's symbol", ver, n)
			}
		}
	}
	if _, err := New(text(capacity(40) + 1)); err != ErrTooLong {
		t.Errorf("text over capacity: %v", err)
	}
}

func TestString(t *testing.T) {
	c, err := New("http://192.168.1.1:8099/p/AAAAAAAAAAAAAAAAAAAAAAAA")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(c.String(), "\n"), "\n")
	if n := c.Size + 2*Quiet; len(lines) != (n+1)/2 || len([]rune(lines[0])) != n {
		t.Fatalf("%d lines of %d, want %d of %d", len(lines), len([]rune(lines[0])), (n+1)/2, n)
	}
	if lines[0] != strings.Repeat("█", c.Size+2*Quiet) {
		t.Errorf("the quiet zone is not light: %q", lines[0])
	}
	// Row 4 (line 2, top half) starts the finder: dark from column 4 on.
	if got := []rune(lines[2]); got[3] != '█' || got[4] == '█' {
		t.Errorf("line 2 %q does not start the finder pattern at column 4", lines[2])
	}
}
