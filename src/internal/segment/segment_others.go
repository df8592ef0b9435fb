//go:build !linux

package segment

import "errors"

// Plumber is a stand-in off Linux.
type Plumber struct{ NetNS int }

// Ensure fails off Linux.
func (*Plumber) Ensure([]Spec) ([]string, error) {
	return nil, errors.New("segment: rtnetlink needs Linux")
}
