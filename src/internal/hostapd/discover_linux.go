package hostapd

import "github.com/mdlayher/wifi"

// apInterfaces lists the interfaces nl80211 reports in AP mode; none where
// the kernel has no nl80211 (as on build machines without Wi-Fi).
func apInterfaces() []string {
	c, err := wifi.New()
	if err != nil {
		return nil
	}
	defer c.Close()
	ifis, err := c.Interfaces()
	if err != nil {
		return nil
	}
	var out []string
	for _, ifi := range ifis {
		if ifi.Type == wifi.InterfaceTypeAP && ifi.Name != "" {
			out = append(out, ifi.Name)
		}
	}
	return out
}
