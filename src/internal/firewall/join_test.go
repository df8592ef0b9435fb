package firewall

import "testing"

func TestValidateJoin(t *testing.T) {
	tests := []struct {
		name string
		j    Join
		ok   bool
	}{
		{"off", Join{}, true},
		{"off ignores the ports", Join{ProxyPort: -1}, true},
		{"proxy", Join{Ifaces: []string{"br-join"}, ProxyPort: 8443}, true},
		{"proxy and CoAP", Join{Ifaces: []string{"br-join", "wlan1"}, ProxyPort: 8443, IPv4: true, CoAPPorts: []int{5684, 5683}}, true},
		{"no port", Join{Ifaces: []string{"br-join"}}, false},
		{"port too high", Join{Ifaces: []string{"br-join"}, ProxyPort: 65536}, false},
		{"bad CoAP port", Join{Ifaces: []string{"br-join"}, ProxyPort: 8443, CoAPPorts: []int{0}}, false},
		{"empty interface", Join{Ifaces: []string{""}, ProxyPort: 8443}, false},
		{"interface too long", Join{Ifaces: []string{"an-interface-name"}, ProxyPort: 8443}, false},
		{"interface twice", Join{Ifaces: []string{"wlan1", "wlan1"}, ProxyPort: 8443}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := validateJoin(tt.j); (err == nil) != tt.ok {
				t.Errorf("validateJoin(%+v) = %v, want ok %v", tt.j, err, tt.ok)
			}
		})
	}
}
