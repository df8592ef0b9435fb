package device

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
	"github.com/trustjoin/trustjoin/src/internal/registry"
)

// Source is where a MUD URL comes from.
type Source string

// The sources. FromUser is the householder (or an ISP, through the local
// API); DHCP and DPP are the device's own claims.
const (
	FromUser Source = "user"
	FromDHCP Source = "dhcp"
	FromDPP  Source = "dpp"
)

// claim says how a source is named when its claim is refused.
func (s Source) claim() string {
	switch s {
	case FromDHCP:
		return "a DHCP request"
	case FromDPP:
		return "the device's Wi-Fi Easy Connect request"
	}
	return "a " + string(s) + " request"
}

var errMUDOff = fault.New(fault.Unavailable, "MUD is disabled in the configuration (mud.enabled)")

// SetMUDURL records a device's MUD URL, checked the same way whatever its
// source: https only (RFC 8520), and a URL the device supplied itself (by
// DHCP, which anyone on the network can forge, or in its DPP request) may
// not change the manufacturer of a device that already has one (RFC 8520
// section 16); the householder can. The file is fetched in the background.
func (o *Owner) SetMUDURL(ctx context.Context, id, u string, src Source) (registry.Device, error) {
	if o.o.MUD == nil {
		return registry.Device{}, errMUDOff
	}
	if err := mudpolicy.ValidURL(u); err != nil {
		return registry.Device{}, err
	}
	by := Self
	if src == FromUser {
		by = Householder
	}
	return o.change(ctx, MUDURLSet, by, id, func(d *registry.Device) (string, error) {
		if d.MUDURL == u {
			return "", errNoChange
		}
		if by == Self && d.MUDURL != "" && mudpolicy.Authority(d.MUDURL) != mudpolicy.Authority(u) {
			return "", fault.New(fault.Conflict, "%s already has a MUD URL from %s; %s may not change its manufacturer to %s (set it by hand to change it)",
				d.Name, mudpolicy.Authority(d.MUDURL), src.claim(), mudpolicy.Authority(u))
		}
		d.MUDURL = u
		d.MUDStatus, d.MUDDetail, d.MUDDigest, d.MUDFetched = "fetching", "the MUD file has not been fetched yet", "", time.Time{}
		if src == FromDPP {
			return "sent its MUD URL", nil
		}
		return "MUD URL set (" + string(src) + ")", nil
	}, later)
}

// SetMUDURLByMAC is SetMUDURL for the device that connected with the MAC
// address mac, as a DHCP server knows it.
func (o *Owner) SetMUDURLByMAC(ctx context.Context, mac, u string, src Source) (registry.Device, error) {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return registry.Device{}, fault.New(fault.Invalid, "%q is not a MAC address; the MUD URL %s is not recorded", mac, u)
	}
	d, ok := o.o.Registry.ByMAC(hw.String())
	if !ok {
		return registry.Device{}, fault.New(fault.NotFound, "no device with MAC address %s was onboarded; its MUD URL %s is not recorded", hw, u)
	}
	return o.SetMUDURL(ctx, d.ID, u, src)
}

// ApproveMUD lets the device's current MUD file be enforced although its
// signature is not verified. The approval names the file's SHA-256: a
// changed file needs approving again. It is in force when this returns.
func (o *Owner) ApproveMUD(ctx context.Context, id string, by Actor) (registry.Device, error) {
	if o.o.MUD == nil {
		return registry.Device{}, errMUDOff
	}
	d, err := o.change(ctx, MUDApproved, by, id, func(d *registry.Device) (string, error) {
		switch {
		case d.MUDURL == "":
			return "", fault.New(fault.Conflict, "%s has no MUD URL", d.Name)
		case d.MUDStatus != string(mudpolicy.PendingApproval) || d.MUDDigest == "":
			status := d.MUDStatus
			if status == "" {
				status = "none"
			}
			return "", fault.New(fault.Conflict, "%s has no MUD file waiting for approval (its MUD status is %s)", d.Name, status)
		}
		d.MUDApproved = d.MUDDigest
		return "MUD file approved (sha256 " + d.MUDDigest[:min(12, len(d.MUDDigest))] + ")", nil
	}, never)
	if err != nil {
		return registry.Device{}, err
	}
	o.refresh(ctx, d.ID, false)
	return o.o.Registry.Get(d.ID)
}

// SetApprovedMUD makes a MUD file the router holds itself (a learned
// profile the householder approved, served at u by the MUD source) the
// device's MUD file, with the approval of exactly that file (digest), in
// one change. From then on it is decided and enforced as a maker's file
// is; it is in force when this returns.
func (o *Owner) SetApprovedMUD(ctx context.Context, id, u, digest string, by Actor) (registry.Device, error) {
	if o.o.MUD == nil {
		return registry.Device{}, errMUDOff
	}
	d, err := o.change(ctx, MUDApproved, by, id, func(d *registry.Device) (string, error) {
		if d.MUDURL != "" && d.MUDURL != u {
			return "", fault.New(fault.Conflict, "%s has a MUD file already (%s)", d.Name, d.MUDURL)
		}
		d.MUDURL, d.MUDApproved = u, digest
		d.MUDStatus, d.MUDDetail, d.MUDDigest, d.MUDFetched = "fetching", "the MUD file has not been read yet", "", time.Time{}
		return "learned profile approved as its MUD file (sha256 " + digest[:min(12, len(digest))] + ")", nil
	}, never)
	if err != nil {
		return registry.Device{}, err
	}
	o.refresh(ctx, d.ID, true)
	return o.o.Registry.Get(d.ID)
}

// MUD is where a device's MUD policy stands as the householder sees it:
// the decision recorded and, for a policy to enforce, whether it is.
func (o *Owner) MUD(d registry.Device) (status, detail string) {
	switch {
	case d.MUDURL == "":
		return "none", ""
	case d.MUDStatus == "":
		return string(mudpolicy.PendingApproval), "the device named its manufacturer's usage description; it is not enforced yet"
	}
	status, detail = d.MUDStatus, d.MUDDetail
	if o.o.Firewall == nil {
		if status == string(mudpolicy.Enforce) {
			detail += "; not enforced: this daemon has no firewall to enforce it with (status only)"
		}
		return status, detail
	}
	o.syncMu.Lock()
	var fwErr error
	if st := o.inForce[d.ID]; st != nil {
		fwErr = st.fwErr
	}
	o.syncMu.Unlock()
	if fwErr != nil {
		detail += "; the firewall failed to apply it and will be asked again: " + fwErr.Error()
	}
	return status, detail
}

// refresh decides a device's MUD policy again (from the network, when the
// file is due, with network set), records the decision and brings the
// device's confinement into force.
func (o *Owner) refresh(ctx context.Context, id string, network bool) {
	o.refreshMUD(ctx, id, network)
	o.sync(ctx, id)
}

// refreshMUD decides and records a device's MUD policy.
func (o *Owner) refreshMUD(ctx context.Context, id string, network bool) {
	d, err := o.o.Registry.Get(id)
	switch {
	case err != nil:
		o.mu.Lock()
		delete(o.policies, id)
		o.mu.Unlock()
		if o.o.MUD != nil {
			o.o.MUD.Forget(id)
		}
	case o.o.MUD != nil:
		out := o.o.MUD.Evaluate(ctx, mudpolicy.Subject{ID: d.ID, URL: d.MUDURL, Approved: d.MUDApproved, Digest: d.MUDDigest, Fetched: d.MUDFetched}, network)
		o.mu.Lock()
		o.policies[id] = out
		o.mu.Unlock()
		o.decided(ctx, d, out)
	}
}

var errStale = errors.New("the device's MUD URL changed meanwhile")

// decided records a MUD decision that differs from the one recorded.
func (o *Owner) decided(ctx context.Context, d registry.Device, out mudpolicy.Outcome) {
	if out.Status == d.MUDStatus && out.Detail == d.MUDDetail && out.Digest == d.MUDDigest && out.Fetched.Equal(d.MUDFetched) {
		return
	}
	url := d.MUDURL
	_, err := o.change(ctx, MUDDecided, System, d.ID, func(d *registry.Device) (string, error) {
		if d.MUDURL != url {
			// Set again meanwhile: that change is decided next.
			return "", errStale
		}
		what := ""
		if d.MUDStatus != out.Status {
			what = "MUD " + out.Status
		}
		d.MUDStatus, d.MUDDetail, d.MUDDigest, d.MUDFetched = out.Status, out.Detail, out.Digest, out.Fetched
		return what, nil
	}, never)
	if err != nil && !fault.Is(err, fault.NotFound) && !errors.Is(err, errStale) {
		o.log.Error("failed to record a device's MUD status", "device", d.ID, "err", err)
	}
	if out.Status != d.MUDStatus {
		o.log.Info("MUD status", "device", d.ID, "url", d.MUDURL, "status", out.Status, "detail", out.Detail)
	}
}
