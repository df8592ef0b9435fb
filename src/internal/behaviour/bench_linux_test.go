package behaviour

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// What watching costs in CPU is measured through the firewall's own log
// rules and a Feed: TestWatchCost in package firewall.

// TestWatchMemory measures what watching keeps per device with 500
// devices: each with a full history (16 drops and 16 connections, the
// most it holds) and the names they were looked up by, against the
// registry's own memory for the same 500 devices (each with its 20-entry
// history), in the same run. A figure; make bench runs it.
func TestWatchMemory(t *testing.T) {
	if os.Getenv("TJ_BENCH_WATCH") == "" {
		t.Skip("a benchmark: TJ_BENCH_WATCH=1 (make bench)")
	}
	const devices = 500
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()
	reg, err := registry.Open(filepath.Join(t.TempDir(), "devices.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var ds []registry.Device
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i := 0; i < devices; i++ {
		d := registry.Device{ID: fmt.Sprintf("d-%08x", i), Name: fmt.Sprintf("device %d", i), KeyHash: strings.Repeat("ab", 32),
			MACs: []string{fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff)}, Segment: "iot", Ifname: "wlan0",
			KeyID: fmt.Sprintf("d-%08x", i), CredentialCreated: at, State: registry.StateConnected, MUDURL: "https://mfg.example/device.json",
			MUDStatus: "enforced", MUDDigest: strings.Repeat("cd", 32), LastSeen: at}
		for j := 0; j < 20; j++ {
			d.Record(at, "connected on wlan0")
		}
		ds = append(ds, d)
	}
	if err := reg.PutMany(ds); err != nil {
		t.Fatal(err)
	}
	ds = nil
	withRegistry := heap()
	rec := NewRecorder(Options{})
	for i := 0; i < devices; i++ {
		id := fmt.Sprintf("d-%08x", i)
		src := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		for j := 0; j < 16; j++ {
			dst := netip.AddrFrom4([4]byte{192, 0, byte(i), byte(j)})
			rec.learnNames(src, answer{name: fmt.Sprintf("host%d.cloud%d.example", j, i), addrs: []netip.Addr{dst}, ttl: 60}, at)
			rec.Record(id, src, Flow{Verdict: Opened, Proto: 6, Addr: dst, Port: 443}, at)
			rec.Record(id, src, Flow{Verdict: Dropped, Proto: 6, Addr: dst, Port: uint16(1000 + j)}, at)
		}
	}
	withWatch := heap()
	regBytes := float64(withRegistry-base) / devices
	watchBytes := float64(withWatch-withRegistry) / devices
	t.Logf("watch: memory per device with %d devices: %.0f bytes of history and names (%.0f kB for all), registry %.0f bytes; registry and watching %.2f× the registry alone",
		devices, watchBytes, watchBytes*devices/1024, regBytes, (regBytes+watchBytes)/regBytes)
	runtime.KeepAlive(reg)
	runtime.KeepAlive(rec)
}
