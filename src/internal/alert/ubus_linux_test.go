package alert

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openwrtPrefix returns where OpenWrt's userland is built: the
// TJ_OPENWRT_PREFIX environment variable, or what scripts/openwrt/build.sh
// prints (it builds once and caches). Without either the test skips.
func openwrtPrefix(t *testing.T, components ...string) string {
	t.Helper()
	if p := os.Getenv("TJ_OPENWRT_PREFIX"); p != "" {
		return p
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts/openwrt/build.sh")
	if _, err := os.Stat(script); err != nil {
		t.Skip("OpenWrt's userland is not built here (no scripts/openwrt/build.sh, TJ_OPENWRT_PREFIX unset)")
	}
	out, err := exec.Command(script, components...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", script, components, err)
	}
	return strings.TrimSpace(string(out))
}

// TestUbusEventReachesAListener sends an event through real ubusd and
// reads it back with `ubus listen`, as another OpenWrt package would.
func TestUbusEventReachesAListener(t *testing.T) {
	prefix := openwrtPrefix(t, "ubus")
	dir := t.TempDir()
	sock := filepath.Join(dir, "ubus.sock")
	// ubus is built against the prefix's libraries; the sink runs it with
	// a clean environment, so a wrapper sets the library path.
	wrapper := filepath.Join(dir, "ubus")
	script := "#!/bin/sh\nLD_LIBRARY_PATH=" + prefix + "/usr/lib exec " + prefix + "/bin/ubus \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	ubusd := exec.Command(prefix+"/sbin/ubusd", "-s", sock)
	ubusd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+prefix+"/usr/lib")
	if err := ubusd.Start(); err != nil {
		t.Fatalf("failed to start ubusd: %v", err)
	}
	t.Cleanup(func() { ubusd.Process.Kill(); ubusd.Wait() })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listen := exec.CommandContext(ctx, wrapper, "-s", sock, "listen", UbusEvent)
	out, err := listen.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// ubusd binds its socket before it listens: start the listener once
	// ubusd answers.
	for exec.Command(wrapper, "-s", sock, "list").Run() != nil {
		if ctx.Err() != nil {
			t.Fatal("ubusd never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := listen.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listen.Process.Kill(); listen.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	u := &Ubus{Path: wrapper, Socket: sock}
	// The listener registers a moment after it starts: probe until it
	// hears one, then send the event under test.
	probe := Event{Seq: 0, Kind: "probe", Message: "probe"}
	var line string
probing:
	for {
		if err := u.Send(ctx, probe); err != nil {
			t.Fatalf("Send = %v", err)
		}
		select {
		case _, ok := <-lines:
			if !ok {
				t.Fatal("ubus listen ended")
			}
			break probing
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("the listener never heard an event")
		}
	}
	want := Event{Seq: 7, At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Kind: AutoQuarantine,
		Device: "d1", Name: "camera \"front\"", MAC: "02:00:00:00:00:01", Message: "camera quarantined: it tried 20 forbidden destinations"}
	if err := u.Send(ctx, want); err != nil {
		t.Fatalf("Send = %v", err)
	}
	for {
		var ok bool
		select {
		case line, ok = <-lines:
			if !ok {
				t.Fatal("ubus listen ended before the event came")
			}
		case <-ctx.Done():
			t.Fatal("the event never reached the listener")
		}
		var got map[string]Event
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("listener printed %q: %v", line, err)
		}
		e, ok := got[UbusEvent]
		if !ok {
			t.Fatalf("listener printed %q, not a %s event", line, UbusEvent)
		}
		if e.Kind == "probe" {
			continue
		}
		if e != want {
			t.Fatalf("listener got %+v, want %+v", e, want)
		}
		return
	}
}

func TestUbusMissingIsSaidOnce(t *testing.T) {
	t.Parallel()
	u := &Ubus{Path: filepath.Join(t.TempDir(), "no-ubus-here")}
	if err := u.Send(context.Background(), Event{Kind: Expired}); !errors.Is(err, ErrNoUbus) {
		t.Fatalf("first Send = %v, want ErrNoUbus", err)
	}
	if err := u.Send(context.Background(), Event{Kind: Expired}); err != nil {
		t.Fatalf("second Send = %v, want nil (said once)", err)
	}
}

func TestUbusFailureSaysWhy(t *testing.T) {
	t.Parallel()
	// ubus failing (here a stand-in saying what ubus says without ubusd)
	// is an error with its words.
	fake := filepath.Join(t.TempDir(), "ubus")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'Failed to connect to ubus' >&2\nexit 255\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	u := &Ubus{Path: fake}
	err := u.Send(context.Background(), Event{Kind: Expired})
	if err == nil || !strings.Contains(err.Error(), "ubus send trustjoin.event") || !strings.Contains(err.Error(), "Failed to connect to ubus") {
		t.Fatalf("Send = %v, want a failure naming the event and ubus's words", err)
	}
}
