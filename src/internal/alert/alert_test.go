package alert

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRingKeepsTheNewest(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	b := New(Options{Keep: 3, Now: func() time.Time { return at }})
	for i := 0; i < 5; i++ {
		b.Recordf(UnknownDevice, "", "", "02:00:00:00:00:0"+string(rune('1'+i)), "seen %d", i)
	}
	var seqs []uint64
	for _, e := range b.Since(0) {
		seqs = append(seqs, e.Seq)
	}
	if diff := cmp.Diff([]uint64{3, 4, 5}, seqs); diff != "" {
		t.Fatalf("kept events (-want +got):\n%s", diff)
	}
	got := b.Since(4)
	if len(got) != 1 || got[0].Seq != 5 || got[0].Message != "seen 4" || !got[0].At.Equal(at) {
		t.Fatalf("Since(4) = %+v, want event 5 only", got)
	}
	want := Counts{Total: 5, ByKind: map[Kind]uint64{UnknownDevice: 5}}
	if diff := cmp.Diff(want, b.Counts()); diff != "" {
		t.Fatalf("counts (-want +got):\n%s", diff)
	}
}

func TestRecordLogsEachEvent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	b := New(Options{Log: slog.New(slog.NewTextHandler(&buf, nil))})
	b.Record(Event{Kind: AutoQuarantine, Device: "d1", Name: "camera", Message: "camera quarantined: 20 forbidden destinations in 10m"})
	line := buf.String()
	for _, want := range []string{"level=WARN", "security event: camera quarantined", "event=auto-quarantine", "device=d1", "name=camera", "seq=1"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
}

// blockedSink never returns until released, like a hung ubus.
type blockedSink struct {
	release chan struct{}
	mu      sync.Mutex
	got     []uint64
}

func (s *blockedSink) String() string { return "blocked" }

func (s *blockedSink) Send(ctx context.Context, e Event) error {
	<-s.release
	s.mu.Lock()
	s.got = append(s.got, e.Seq)
	s.mu.Unlock()
	return nil
}

func TestRecordNeverBlocks(t *testing.T) {
	t.Parallel()
	s := &blockedSink{release: make(chan struct{})}
	b := New(Options{Sinks: []Sink{s}, Queue: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	// One event is taken by Run and held by the sink, two wait in the
	// queue, the rest are dropped for the sinks but still recorded.
	for i := 0; i < 10; i++ {
		b.Recordf(Expired, "d", "n", "", "event %d", i)
	}
	c := b.Counts()
	if c.Total != 10 || c.Dropped < 7 || c.Dropped > 8 {
		t.Fatalf("counts = %+v, want 10 recorded and 7 or 8 dropped for the sinks", c)
	}
	if n := len(b.Since(0)); n != 10 {
		t.Fatalf("ring holds %d events, want 10", n)
	}
	close(s.release)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil once cancelled", err)
	}
}

type failingSink struct{ calls int }

func (f *failingSink) String() string { return "failing" }
func (f *failingSink) Send(context.Context, Event) error {
	f.calls++
	return errors.New("bus down")
}

func TestFailingSinkIsLogged(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	f := &failingSink{}
	b := New(Options{Log: slog.New(slog.NewTextHandler(&buf, nil)), Sinks: []Sink{f}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Run(ctx)
	b.Recordf(HookFailed, "", "", "", "hook timed out")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), "failed to send security event") {
		if time.Now().After(deadline) {
			t.Fatalf("no failure logged; log:\n%s", buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(buf.String(), "err=\"bus down\"") {
		t.Fatalf("failure logged without its cause:\n%s", buf.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
