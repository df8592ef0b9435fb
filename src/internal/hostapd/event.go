package hostapd

import (
	"strconv"
	"strings"
)

// An Event is one unsolicited message hostapd sends to attached listeners,
// such as "<3>AP-STA-CONNECTED 02:00:00:00:01:00 keyid=dev1".
//
// hostapd 2.10 and 2.11 differ in which key=value fields some events carry;
// consumers read Fields by name and must tolerate missing ones.
type Event struct {
	// Iface is the BSS interface whose control socket delivered the event.
	Iface string
	// Level is the priority from the "<N>" prefix (MSG_INFO is 3).
	Level int
	// Name is the first word, e.g. "AP-STA-CONNECTED" or "DPP-AUTH-SUCCESS".
	Name string
	// Args are the words after Name that are not key=value pairs, in order.
	Args []string
	// Fields are the key=value words after Name.
	Fields map[string]string
	// Raw is the message text after the "<N>" prefix.
	Raw string
}

// ParseEvent parses one event datagram as hostapd sends it. It reports false
// when msg is not an event (events always start with "<N>").
func ParseEvent(iface, msg string) (Event, bool) {
	msg = strings.TrimRight(msg, "\r\n")
	if len(msg) < 3 || msg[0] != '<' {
		return Event{}, false
	}
	end := strings.IndexByte(msg, '>')
	if end < 2 {
		return Event{}, false
	}
	level, err := strconv.Atoi(msg[1:end])
	if err != nil {
		return Event{}, false
	}
	ev := Event{Iface: iface, Level: level, Raw: msg[end+1:]}
	words := strings.Fields(ev.Raw)
	if len(words) == 0 {
		return Event{}, false
	}
	ev.Name = words[0]
	for _, w := range words[1:] {
		if k, v, ok := strings.Cut(w, "="); ok && k != "" {
			if ev.Fields == nil {
				ev.Fields = make(map[string]string)
			}
			ev.Fields[k] = v
			continue
		}
		ev.Args = append(ev.Args, w)
	}
	return ev, true
}
