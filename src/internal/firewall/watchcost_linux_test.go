package firewall

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trustjoin/trustjoin/src/internal/behaviour"
)

// TestWatchCost measures what watching costs the router, through the
// path the daemon runs: the CPU time of this process (the sender, the
// kernel forwarding in its context, and the NFLOG feed with the
// recorder) per 1000 packets a device sends that its MUD policy drops,
// with the Enforcer's tables installed with a log group and read by
// behaviour's Feed into a Recorder, against the same tables installed
// without one; rounds interleaved, medians of the ratios reported. A
// figure, not a test: it never fails on timing. make bench runs it
// (scripts/bench/watch.sh).
func TestWatchCost(t *testing.T) {
	if os.Getenv("TJ_BENCH_WATCH") == "" {
		t.Skip("a benchmark: TJ_BENCH_WATCH=1 (make bench)")
	}
	fd := topology(t)
	const group = 4730
	var handled atomic.Uint64
	rec := behaviour.NewRecorder(behaviour.Options{
		Device: func(net.HardwareAddr) (string, bool) { return nsD1, true },
		Policy: func(string) behaviour.Policy {
			return behaviour.Policy{Mode: behaviour.Notify, Threshold: 10, Window: time.Minute}
		},
	})
	feed := &behaviour.Feed{Group: group, CopyRange: 128, NetNS: fd, Handle: func(p behaviour.Packet) { handled.Add(1); rec.Handle(p) }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go feed.Run(ctx)
	<-feed.Ready()

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	install := func(logGroup uint16) {
		t.Helper()
		_ = exec.Command("ip", "netns", "exec", nsRouter, "nft", "flush", "ruleset").Run()
		e := New(quiet, Options{Table: "tjwc", NetNS: fd, LogGroup: logGroup})
		if err := e.SetSegments(ctx, openSegs); err != nil {
			t.Fatal(err)
		}
		if err := e.Apply(ctx, dev(nsD1, benchPolicy, "bench.example")); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "exec", nsRouter, "nft", "flush", "ruleset").Run() })

	// The sender: a UDP socket in the device's namespace, to ports its
	// policy does not allow.
	var sock int
	if err := inNS(nsD1, func() (err error) { sock, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0); return err }); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sock)
	const n = 50000
	payload := make([]byte, 64)
	cpu := func() time.Duration {
		var ru unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// drain waits until the feed has been idle a while: what was logged
	// has been read and recorded.
	drain := func() {
		last := handled.Load()
		for {
			time.Sleep(300 * time.Millisecond)
			cur := handled.Load()
			if cur == last {
				return
			}
			last = cur
		}
	}
	send := func() time.Duration {
		start := cpu()
		for i := 0; i < n; i++ {
			unix.Sendto(sock, payload, 0, &unix.SockaddrInet4{Port: 1000 + i%200, Addr: [4]byte{10, 77, 9, 2}})
		}
		drain()
		return cpu() - start
	}
	configs := []struct {
		name  string
		group uint16
	}{{"not watched (no log group)", 0}, {"watched (the firewall's log rules, read)", group}}
	const rounds = 5
	per := make([][]time.Duration, len(configs))
	before := handled.Load()
	for round := 0; round < rounds; round++ {
		for i, c := range configs {
			install(c.group)
			drain()
			per[i] = append(per[i], send())
		}
	}
	if handled.Load() == before {
		t.Fatal("nothing was logged: the watched configuration measured nothing")
	}
	median := func(ds []float64) float64 { slices.Sort(ds); return ds[len(ds)/2] }
	for i, c := range configs {
		var ms, ratio []float64
		for round := range per[i] {
			ms = append(ms, float64(per[i][round])/float64(time.Millisecond)/(n/1000))
			ratio = append(ratio, float64(per[i][round])/float64(per[0][round]))
		}
		t.Logf("watch: %-42s CPU %.3f ms per 1000 dropped packets, %.2f× not watched (median of %d rounds)", c.name, median(ms), median(ratio), rounds)
	}
	h := rec.History(nsD1)
	t.Logf("watch: NFLOG packets read %d (the rate limit lets through 50 a second), socket overflows %d, drops recorded %d", handled.Load()-before, feed.Lost.Load(), h.Dropped)
}
