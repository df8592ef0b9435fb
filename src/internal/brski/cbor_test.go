package brski

import (
	"bytes"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// The reference: a general CBOR codec configured with the limits the
// messages had when they were decoded with it.
var refGRASP = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  graspLimits.depth,
		MaxArrayElements: graspLimits.elems,
		MaxMapPairs:      graspLimits.elems,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

func TestCBORTextUTF8(t *testing.T) {
	if _, _, err := cborString(unhex(t, "61ff"), cborText); err == nil {
		t.Error("invalid UTF-8 accepted as text")
	}
	if s, _, err := cborString(unhex(t, "62c3a9"), cborText); err != nil || string(s) != "é" {
		t.Errorf("got %q, %v", s, err)
	}
}

func TestCBORHeadShortest(t *testing.T) {
	for _, v := range []uint64{0, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<64 - 1} {
		want, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendCBORUint(nil, v); !bytes.Equal(got, want) {
			t.Errorf("%d: got %x, want %x", v, got, want)
		}
		if n, err := cborUintOf(want); err != nil || n != v {
			t.Errorf("%x decoded as %d, %v", want, n, err)
		}
	}
}

func TestCBORCheckRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":               "",
		"truncated head":      "19",
		"truncated string":    "4301",
		"reserved":            "1c",
		"tag":                 "c100",
		"indefinite array":    "9fff",
		"indefinite bytes":    "5fff",
		"break":               "ff",
		"bad simple":          "f810",
		"huge length":         "5bffffffffffffffff",
		"too many elements":   "9841" + string(bytes.Repeat([]byte("00"), 65)),
		"too deep":            "81818181818181818100",
		"missing map value":   "a100",
		"trailing":            "0000",
		"array of truncation": "8201",
	} {
		if err := cborCheck(unhex(t, in), graspLimits); err == nil {
			t.Errorf("%s (%s): accepted", name, in)
		}
		if err := refGRASP.Wellformed(unhex(t, in)); err == nil {
			t.Errorf("%s (%s): the reference accepts it", name, in)
		}
	}
}

// FuzzCBORCheck holds the subset to the reference: what one accepts as a
// well-formed item within the limits, so does the other.
func FuzzCBORCheck(f *testing.F) {
	for _, v := range []string{vectorProxy, vectorRegistrar, vectorJPY, "80", "a10000", "f97e00", "f820", "7f", "c0"} {
		f.Add(unhex(f, v))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := cborCheck(b, graspLimits), refGRASP.Wellformed(b)
		if (got == nil) != (want == nil) {
			t.Fatalf("%x: cborCheck says %v, the reference %v", b, got, want)
		}
	})
}
