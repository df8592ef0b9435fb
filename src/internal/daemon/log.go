package daemon

import (
	"io"
	"log/slog"
	"log/syslog"
)

// NewLogger returns the daemon's logger writing text records to w, at the
// level held by level. Under procd and systemd, stderr already lands in the
// system log, which adds the time, so records carry none.
func NewLogger(w io.Writer, level *slog.LevelVar) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// SyslogWriter returns a writer to the local syslog (logd's /dev/log on
// OpenWrt) tagged "trustjoin", for when stderr goes nowhere useful.
func SyslogWriter() (io.Writer, error) {
	return syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "trustjoin")
}
