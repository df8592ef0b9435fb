package qr

// A symbol is a code being drawn: its modules and which of them belong to
// function patterns (finders, timing, alignment, format and version).
type symbol struct {
	size     int
	dark     []bool
	function []bool
}

func newSymbol(ver int) *symbol {
	size := 4*ver + 17
	s := &symbol{size: size, dark: make([]bool, size*size), function: make([]bool, size*size)}
	for i := 0; i < size; i++ {
		s.set(6, i, i%2 == 0)
		s.set(i, 6, i%2 == 0)
	}
	s.finder(3, 3)
	s.finder(size-4, 3)
	s.finder(3, size-4)
	pos := alignmentPositions(ver)
	last := len(pos) - 1
	for i, x := range pos {
		for j, y := range pos {
			if i == 0 && j == 0 || i == 0 && j == last || i == last && j == 0 {
				continue // the finders' corners
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					s.set(x+dx, y+dy, max(abs(dx), abs(dy)) != 1)
				}
			}
		}
	}
	s.drawFormat(0) // reserves its modules; drawn again with the mask
	if ver >= 7 {
		rem := ver
		for range 12 {
			rem = rem<<1 ^ (rem>>11)*0x1f25
		}
		bits := ver<<12 | rem
		for i := range 18 {
			a, b, dark := size-11+i%3, i/3, bits>>i&1 == 1
			s.set(a, b, dark)
			s.set(b, a, dark)
		}
	}
	return s
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// set draws a function module.
func (s *symbol) set(x, y int, dark bool) {
	s.dark[y*s.size+x] = dark
	s.function[y*s.size+x] = true
}

// finder draws a finder pattern centred on x, y with its separator.
func (s *symbol) finder(x, y int) {
	for dy := -4; dy <= 4; dy++ {
		for dx := -4; dx <= 4; dx++ {
			if xx, yy := x+dx, y+dy; xx >= 0 && yy >= 0 && xx < s.size && yy < s.size {
				d := max(abs(dx), abs(dy))
				s.set(xx, yy, d != 2 && d != 4)
			}
		}
	}
}

// alignmentPositions returns the rows (and columns) of a version's
// alignment patterns' centres.
func alignmentPositions(ver int) []int {
	if ver == 1 {
		return nil
	}
	n := ver/7 + 2
	step := (ver*8 + n*3 + 5) / (n*4 - 4) * 2
	pos := make([]int, n)
	pos[0] = 6
	for i, p := n-1, 4*ver+10; i >= 1; i, p = i-1, p-step {
		pos[i] = p
	}
	return pos
}

// drawFormat draws the format information for level M and mask, twice,
// and the dark module.
func (s *symbol) drawFormat(mask int) {
	data := mask // level M is 00
	rem := data
	for range 10 {
		rem = rem<<1 ^ (rem>>9)*0x537
	}
	bits := (data<<10 | rem) ^ 0x5412
	bit := func(i int) bool { return bits>>i&1 == 1 }
	for i := 0; i <= 5; i++ {
		s.set(8, i, bit(i))
	}
	s.set(8, 7, bit(6))
	s.set(8, 8, bit(7))
	s.set(7, 8, bit(8))
	for i := 9; i < 15; i++ {
		s.set(14-i, 8, bit(i))
	}
	for i := 0; i < 8; i++ {
		s.set(s.size-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		s.set(8, s.size-15+i, bit(i))
	}
	s.set(8, s.size-8, true)
}

// drawCodewords places the codewords in the zigzag of two-module columns,
// right to left, skipping the function patterns.
func (s *symbol) drawCodewords(data []byte) {
	i := 0
	for right := s.size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5 // the vertical timing pattern
		}
		upward := (right+1)&2 == 0
		for v := 0; v < s.size; v++ {
			y := v
			if upward {
				y = s.size - 1 - v
			}
			for x := right; x >= right-1; x-- {
				if k := y*s.size + x; !s.function[k] && i < 8*len(data) {
					s.dark[k] = data[i/8]>>(7-i%8)&1 == 1
					i++
				}
			}
		}
	}
}

// applyMask inverts the data modules mask selects; applying it twice
// undoes it.
func (s *symbol) applyMask(mask int) {
	for y := 0; y < s.size; y++ {
		for x := 0; x < s.size; x++ {
			var flip bool
			switch mask {
			case 0:
				flip = (x+y)%2 == 0
			case 1:
				flip = y%2 == 0
			case 2:
				flip = x%3 == 0
			case 3:
				flip = (x+y)%3 == 0
			case 4:
				flip = (x/3+y/2)%2 == 0
			case 5:
				flip = x*y%2+x*y%3 == 0
			case 6:
				flip = (x*y%2+x*y%3)%2 == 0
			case 7:
				flip = ((x+y)%2+x*y%3)%2 == 0
			}
			if k := y*s.size + x; flip && !s.function[k] {
				s.dark[k] = !s.dark[k]
			}
		}
	}
}

// penalty scores the symbol by the four rules of ISO/IEC 18004:2015
// 7.8.3.1: runs of one colour, 2×2 blocks, finder-like patterns and the
// balance of dark and light. Lower is better.
func (s *symbol) penalty() int {
	n := s.size
	at := func(x, y int, transpose bool) bool {
		if transpose {
			x, y = y, x
		}
		return s.dark[y*n+x]
	}
	p := 0
	for _, t := range []bool{false, true} {
		for y := 0; y < n; y++ {
			run := 0
			for x := 0; x < n; x++ {
				if x > 0 && at(x, y, t) == at(x-1, y, t) {
					run++
				} else {
					run = 1
				}
				if run == 5 {
					p += 3
				} else if run > 5 {
					p++
				}
				// 1:1:3:1:1 with four light modules on one side.
				if x+11 <= n {
					var line [11]bool
					for i := range line {
						line[i] = at(x+i, y, t)
					}
					if line == [11]bool{true, false, true, true, true, false, true, false, false, false, false} ||
						line == [11]bool{false, false, false, false, true, false, true, true, true, false, true} {
						p += 40
					}
				}
			}
		}
	}
	dark := 0
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			c := s.dark[y*n+x]
			if c {
				dark++
			}
			if x+1 < n && y+1 < n && c == s.dark[y*n+x+1] && c == s.dark[(y+1)*n+x] && c == s.dark[(y+1)*n+x+1] {
				p += 3
			}
		}
	}
	total := n * n
	p += (abs(dark*20-total*10)+total-1)/total*10 - 10
	return p
}
