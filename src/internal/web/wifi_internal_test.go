package web

import "testing"

func TestWifiQR(t *testing.T) {
	tests := []struct{ ssid, pass, want string }{
		{"Home", "abcDEF234", "WIFI:T:WPA;S:Home;P:abcDEF234;;"},
		{`My;Net,"5:G"\`, "p;w", `WIFI:T:WPA;S:My\;Net\,\"5\:G\"\\;P:p\;w;;`},
	}
	for _, tt := range tests {
		if got := wifiQR(tt.ssid, tt.pass); got != tt.want {
			t.Errorf("wifiQR(%q, %q) = %q, want %q", tt.ssid, tt.pass, got, tt.want)
		}
	}
}
