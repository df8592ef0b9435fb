package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
	"sync/atomic"
)

// UbusEvent is the ubus event type security events are sent as; listen
// with `ubus listen trustjoin.event`.
const UbusEvent = "trustjoin.event"

// Ubus sends events on the ubus bus with OpenWrt's own `ubus send`.
// Events are rare (a few a day), so a process per event costs less than
// a ubus client in the binary, and `ubus` is on every OpenWrt system.
type Ubus struct {
	// Path is the ubus command; empty means "ubus" from PATH.
	Path string
	// Socket is ubusd's socket; empty means ubus's default.
	Socket string

	// missing is set once ubus is found not to exist (a Debian machine):
	// each later event is skipped without a process or a log line.
	missing atomic.Bool
}

func (u *Ubus) String() string { return "ubus" }

// ErrNoUbus reports that there is no ubus command on this system.
var ErrNoUbus = errors.New("no ubus command on this system")

// Send runs `ubus send trustjoin.event JSON`. The event holds no secret,
// so its place on a command line (readable in /proc) gives nothing away.
func (u *Ubus) Send(ctx context.Context, e Event) error {
	if u.missing.Load() {
		return nil
	}
	msg, err := json.Marshal(e)
	if err != nil {
		return err
	}
	path := u.Path
	if path == "" {
		path = "ubus"
	}
	var args []string
	if u.Socket != "" {
		args = append(args, "-s", u.Socket)
	}
	args = append(args, "send", UbusEvent, string(msg))
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			u.missing.Store(true)
			return ErrNoUbus
		}
		return fmt.Errorf("ubus send %s: %v: %s", UbusEvent, err, strings.TrimSpace(out.String()))
	}
	return nil
}
