package fault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/fault"
)

func TestKindCrossesWrapping(t *testing.T) {
	err := fmt.Errorf("moving the camera: %w", fault.New(fault.NotFound, "no segment %q", "garage"))
	if !fault.Is(err, fault.NotFound) || fault.Is(err, fault.Invalid) {
		t.Fatalf("kind lost through wrapping: %v", fault.KindOf(err))
	}
	if err.Error() != `moving the camera: no segment "garage"` {
		t.Fatalf("message %q", err)
	}
	for _, err := range []error{nil, errors.New("disk full")} {
		if k := fault.KindOf(err); k != fault.Internal {
			t.Errorf("%v: kind %v, want internal", err, k)
		}
	}
}
