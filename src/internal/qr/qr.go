package qr

import (
	"errors"
	"strings"
)

// Level M, by version (index 0 unused): error correction codewords per
// block, and blocks (ISO/IEC 18004:2015 Table 9).
var (
	eccPerBlock = [41]int{0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28}
	numBlocks   = [41]int{0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49}
)

// ErrTooLong refuses text beyond a version 40 code's capacity.
var ErrTooLong = errors.New("qr: text too long for a QR code")

// A Code is a QR code's modules, Size×Size, true for dark, without the
// quiet zone.
type Code struct {
	Size    int
	modules []bool
}

// Dark reports whether the module at column x, row y is dark; outside the
// code (the quiet zone) it is light.
func (c *Code) Dark(x, y int) bool {
	return x >= 0 && y >= 0 && x < c.Size && y < c.Size && c.modules[y*c.Size+x]
}

// New encodes text in byte mode at level M, in the smallest version it
// fits, with the mask that scores best.
func New(text string) (*Code, error) {
	return encode(text, -1)
}

// encode is New with the mask given (0–7), or chosen when mask is -1.
func encode(text string, mask int) (*Code, error) {
	ver := 1
	for ; ver <= 40; ver++ {
		if 4+countBits(ver)+8*len(text) <= 8*dataCodewords(ver) {
			break
		}
	}
	if ver > 40 {
		return nil, ErrTooLong
	}
	s := newSymbol(ver)
	s.drawCodewords(codewords(ver, text))
	if mask < 0 {
		best := -1
		for m := range 8 {
			s.applyMask(m)
			s.drawFormat(m)
			if p := s.penalty(); best < 0 || p < best {
				best, mask = p, m
			}
			s.applyMask(m) // undoes it
		}
	}
	s.applyMask(mask)
	s.drawFormat(mask)
	return &Code{Size: s.size, modules: s.dark}, nil
}

// countBits is the length of byte mode's character count.
func countBits(ver int) int {
	if ver <= 9 {
		return 8
	}
	return 16
}

// rawModules is the number of modules of a version left for data and
// error correction, remainder bits included.
func rawModules(ver int) int {
	n := (16*ver+128)*ver + 64
	if ver >= 2 {
		align := ver/7 + 2
		n -= (25*align-10)*align - 55
		if ver >= 7 {
			n -= 36
		}
	}
	return n
}

func dataCodewords(ver int) int {
	return rawModules(ver)/8 - eccPerBlock[ver]*numBlocks[ver]
}

// codewords returns text's data codewords, split into blocks with their
// error correction and interleaved.
func codewords(ver int, text string) []byte {
	capacity := dataCodewords(ver)
	var b bitWriter
	b.write(0b0100, 4) // byte mode
	b.write(uint32(len(text)), countBits(ver))
	for i := 0; i < len(text); i++ {
		b.write(uint32(text[i]), 8)
	}
	b.write(0, min(4, 8*capacity-b.n)) // terminator
	b.write(0, (8-b.n%8)%8)
	for pad := byte(0xec); len(b.buf) < capacity; pad ^= 0xec ^ 0x11 {
		b.buf = append(b.buf, pad)
	}

	blocks, ecc := numBlocks[ver], eccPerBlock[ver]
	short := blocks - rawModules(ver)/8%blocks // blocks one codeword shorter
	shortLen := rawModules(ver)/8/blocks - ecc
	gen := generator(ecc)
	data := make([][]byte, blocks)
	check := make([][]byte, blocks)
	for i, k := 0, 0; i < blocks; i++ {
		n := shortLen
		if i >= short {
			n++
		}
		data[i] = b.buf[k : k+n]
		check[i] = remainder(data[i], gen)
		k += n
	}
	out := make([]byte, 0, rawModules(ver)/8)
	for i := 0; i <= shortLen; i++ {
		for j := range data {
			if i < len(data[j]) {
				out = append(out, data[j][i])
			}
		}
	}
	for i := 0; i < ecc; i++ {
		for j := range check {
			out = append(out, check[j][i])
		}
	}
	return out
}

type bitWriter struct {
	buf []byte
	n   int // bits written
}

func (w *bitWriter) write(v uint32, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		w.buf[len(w.buf)-1] |= byte(v>>i&1) << (7 - w.n%8)
		w.n++
	}
}

// gfMul multiplies in GF(2^8) modulo x^8+x^4+x^3+x^2+1.
func gfMul(x, y byte) byte {
	var z byte
	for i := 7; i >= 0; i-- {
		z = z<<1 ^ (z>>7)*0x1d
		z ^= (y >> i & 1) * x
	}
	return z
}

// generator returns the Reed–Solomon generator polynomial of the given
// degree, highest coefficient (1) dropped.
func generator(degree int) []byte {
	g := make([]byte, degree)
	g[degree-1] = 1
	root := byte(1)
	for range degree {
		for j := range g {
			g[j] = gfMul(g[j], root)
			if j+1 < len(g) {
				g[j] ^= g[j+1]
			}
		}
		root = gfMul(root, 2)
	}
	return g
}

// remainder returns the error correction codewords of data.
func remainder(data, gen []byte) []byte {
	r := make([]byte, len(gen))
	for _, d := range data {
		f := d ^ r[0]
		copy(r, r[1:])
		r[len(r)-1] = 0
		for i, g := range gen {
			r[i] ^= gfMul(g, f)
		}
	}
	return r
}

// Quiet is the light margin a code needs around it, in modules.
const Quiet = 4

// String draws the code for a terminal, two rows per line with half
// blocks, light modules (and the quiet zone) in the foreground colour, so
// it reads on the usual dark background.
func (c *Code) String() string {
	var b strings.Builder
	for y := -Quiet; y < c.Size+Quiet; y += 2 {
		for x := -Quiet; x < c.Size+Quiet; x++ {
			top, bottom := c.Dark(x, y), c.Dark(x, y+1)
			switch {
			case top && bottom:
				b.WriteString(" ")
			case top:
				b.WriteString("▄")
			case bottom:
				b.WriteString("▀")
			default:
				b.WriteString("█")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
