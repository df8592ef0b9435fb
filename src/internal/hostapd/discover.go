package hostapd

import (
	"os"
	"sort"
	"strings"
)

// An AccessPoint is a BSS found on this machine.
type AccessPoint struct {
	Ifname string
	// Socket is true when hostapd's control socket for it exists.
	Socket bool
	// Radio is true when nl80211 reports the interface in AP mode.
	Radio bool
}

// Discover finds access points from hostapd's control directory and, where
// the kernel has nl80211, from the radios themselves: an AP interface
// without a control socket is one whose hostapd cannot be driven (not
// running, or a ctrl_interface elsewhere), which the status display names.
func Discover(ctrlDir string) ([]AccessPoint, error) {
	found := map[string]*AccessPoint{}
	entries, err := os.ReadDir(ctrlDir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	for _, e := range entries {
		// "global" is hostapd's process-wide socket, not a BSS.
		if e.Type()&os.ModeSocket == 0 || strings.HasPrefix(e.Name(), "global") {
			continue
		}
		found[e.Name()] = &AccessPoint{Ifname: e.Name(), Socket: true}
	}
	for _, name := range apInterfaces() {
		if ap, ok := found[name]; ok {
			ap.Radio = true
			continue
		}
		found[name] = &AccessPoint{Ifname: name, Radio: true}
	}
	out := make([]AccessPoint, 0, len(found))
	for _, ap := range found {
		out = append(out, *ap)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ifname < out[j].Ifname })
	return out, nil
}
