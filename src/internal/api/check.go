package api

import (
	"github.com/trustjoin/trustjoin/src/internal/devname"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/hostapd"
)

// The API checks what it can of a request before the daemon acts on it, so
// every client (the CLI, rpcd for LuCI and TR-069, scripts) meets the same
// refusals: names fit to show, PKEX values hostapd takes as themselves.

// CheckName checks a device name given in a request; empty means none.
func CheckName(name string) error {
	if name == "" {
		return nil
	}
	if err := devname.Check(name); err != nil {
		return fault.New(fault.Invalid, "%v", err)
	}
	return nil
}

// Check checks an onboarding request's name and, for PKEX, its code and
// identifier.
func (o OnboardRequest) Check() error {
	if err := CheckName(o.Name); err != nil {
		return err
	}
	if o.Method != "pkex" {
		return nil
	}
	if err := hostapd.CheckPKEXCode(o.Code); err != nil {
		return fault.New(fault.Invalid, "%v", err)
	}
	if err := hostapd.CheckPKEXIdentifier(o.Identifier); err != nil {
		return fault.New(fault.Invalid, "%v", err)
	}
	return nil
}
