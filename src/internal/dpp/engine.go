package dpp

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/credential"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/fsutil"
	"github.com/trustjoin/trustjoin/src/internal/hostapd"
)

// Ctrl is how the engine drives one access point's hostapd.
type Ctrl interface {
	Command(ctx context.Context, cmd string) (string, error)
}

// A waiter is a Ctrl that can wait, bounded, for hostapd to come back
// while it is being reconnected to (*hostapd.Monitor.Wait). A request
// finding its access point so is held until it is back, instead of
// refused: a busy hostapd that missed a PING is back within a second or
// two.
type waiter interface {
	Wait(ctx context.Context) error
}

// Devices is what the engine tells about devices: the device owner
// (package device) implements it and decides what each event means for the
// device's standing. Calls come from hostapd's event stream and the
// exchanges; they must not block for long.
type Devices interface {
	// Configured: the device of an exchange has received its credential
	// (DPP-CONF-SENT).
	Configured(deviceID string)
	// Connected: a station connected on ifname with the credential keyID.
	Connected(ifname, keyID, mac string)
	// Disconnected: a station left ifname.
	Disconnected(ifname, mac string)
	// MUDURL: the device of an exchange named its MUD URL in its DPP
	// configuration request.
	MUDURL(deviceID, url string)
	// Failed: the exchange giving deviceID the credential keyID ended
	// without the device connecting with it. configured says whether the
	// device received it (it may then connect later).
	Failed(deviceID, keyID string, configured bool, why string)
	// Chirps lists the pre-authorised devices to listen for, each with
	// the key id and VLAN of its line.
	Chirps() ([]Chirp, error)
}

// Chirp is a pre-authorised device waiting to announce itself.
type Chirp struct {
	DeviceID, KeyID string
	VLAN            int
	// URI is its bootstrapping URI.
	URI string
}

// Options configure an Engine.
type Options struct {
	Log *slog.Logger
	// Devices hears what happens to devices; SetDevices sets it later.
	Devices Devices
	// StateDir holds the configurator key (root-only).
	StateDir string
	// Conf is what devices are configured for: sta-psk, sta-sae or
	// sta-psk-sae.
	Conf string
	// Timeout bounds one onboarding, from request to device connected.
	Timeout time.Duration
	// PKEXAttempts wrong PKEX codes are tolerated per PKEXWindow.
	PKEXAttempts int
	PKEXWindow   time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// An Engine onboards devices on one or more access points.
type Engine struct {
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	bss      map[string]*bss
	order    []string
	requests map[string]*Request
}

// bss is one access point and its queue.
type bss struct {
	ifname string
	ctrl   Ctrl
	psk    *credential.PSKFile
	queue  chan *job
	// Runtime state, lost when hostapd restarts and set again by Attach.
	mu       sync.Mutex
	attached bool
	dpp      hostapd.DPPSupport
	ssid     string
	freq     int
	// keyMgmt is the AKMs hostapd offers (GET_CONFIG's key_mgmt), empty
	// when it did not say.
	keyMgmt      string
	configurator string
	// events go to the exchange in progress.
	events chan hostapd.Event
	// pkexFails are the times of recent wrong PKEX codes.
	pkexFails []time.Time
	pkexBusy  bool
	// chirp maps a pre-authorised device to its bootstrap entry in hostapd.
	chirp map[string]string
	// running is the exchange in progress here, nil between exchanges.
	running *job
}

// Request is one onboarding request and its outcome.
type Request struct {
	ID       string
	DeviceID string
	State    string // queued, running, configured, connected, failed, cancelled
	Step     string
	Error    string
	Hint     string
	cancel   context.CancelFunc
}

type job struct {
	req         *Request
	method      string // qr or pkex
	uri         *URI
	code, ident string
	// The device, its new credential's key id, and the line's VLAN.
	deviceID, keyID string
	vlan            int
	configured      bool
}

// New returns an Engine.
func New(o Options) *Engine {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Conf == "" {
		o.Conf = "sta-psk"
	}
	return &Engine{o: o, log: o.Log, bss: map[string]*bss{}, requests: map[string]*Request{}}
}

// SetDevices sets who hears about devices, before Run.
func (e *Engine) SetDevices(d Devices) { e.o.Devices = d }

// AddBSS registers an access point, its hostapd control and the PSK file
// trustjoin owns for it.
func (e *Engine) AddBSS(ifname string, ctrl Ctrl, psk *credential.PSKFile) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bss[ifname] = &bss{
		ifname: ifname, ctrl: ctrl, psk: psk,
		queue:  make(chan *job, 16),
		events: make(chan hostapd.Event, 64),
		chirp:  map[string]string{},
	}
	e.order = append(e.order, ifname)
}

// SetCtrl sets how the engine reaches an access point's hostapd (the
// monitor, which fails fast while hostapd is down).
func (e *Engine) SetCtrl(ifname string, c Ctrl) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if b := e.bss[ifname]; b != nil {
		b.ctrl = c
	}
}

// Radio describes an access point for status displays.
type Radio struct {
	Ifname   string
	SSID     string
	Freq     int
	Attached bool
	DPP      hostapd.DPPSupport
	// KeyMgmt is the AKMs the access point offers, as hostapd names
	// them ("WPA-PSK SAE"); empty when hostapd did not say.
	KeyMgmt string
	// NoPSK: the access point offers no WPA-PSK, so hostapd never checks
	// the PSK file's lines and a per-device passphrase cannot work there
	// (a 6 GHz access point: WPA3-SAE only).
	NoPSK bool
}

// Radios lists the access points in configuration order.
func (e *Engine) Radios() []Radio {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Radio
	for _, n := range e.order {
		b := e.bss[n]
		b.mu.Lock()
		out = append(out, Radio{Ifname: n, SSID: b.ssid, Freq: b.freq, Attached: b.attached, DPP: b.dpp, KeyMgmt: b.keyMgmt, NoPSK: noPSK(b.keyMgmt)})
		b.mu.Unlock()
	}
	return out
}

// Attach runs each time hostapd's control socket for ifname is (re)connected:
// hostapd has lost every DPP object, so the engine restores its
// configurator from the persisted key (devices onboarded before stay
// valid), reloads the PSK file and re-arms pre-authorised devices.
func (e *Engine) Attach(ctx context.Context, ifname string, c Ctrl) error {
	b := e.get(ifname)
	if b == nil {
		return fmt.Errorf("dpp: unknown access point %s", ifname)
	}
	caps, err := capabilities(ctx, c)
	if err != nil {
		return err
	}
	conf, err := c.Command(ctx, "GET_CONFIG")
	if err != nil {
		return err
	}
	status, err := c.Command(ctx, "STATUS")
	if err != nil {
		return err
	}
	freq, _ := strconv.Atoi(hostapd.ParseKV(status)["freq"])
	// A PSK file written while trustjoin could not tell hostapd must take
	// effect now; one hostapd has as it is stays as it is (a reconnection
	// to a hostapd that was only busy: a reload would disconnect every
	// station still connecting).
	if !b.psk.Known(ifname) {
		if _, err := reloadPSK(ctx, c, b); err != nil {
			e.log.Warn("failed to reload PSKs", "iface", ifname, "err", err)
		}
	}
	b.mu.Lock()
	prev := b.configurator
	b.ssid = hostapd.ParseKV(conf)["ssid"]
	b.keyMgmt = strings.Join(strings.Fields(hostapd.ParseKV(conf)["key_mgmt"]), " ")
	b.freq = freq
	b.dpp = caps
	b.configurator = ""
	b.attached = true
	b.mu.Unlock()
	if !caps.Supported {
		e.log.Warn("this hostapd has no Wi-Fi Easy Connect (DPP): devices cannot be onboarded by QR or PKEX code on this access point; install a full hostapd/wpad variant (wpad-openssl or wpad-mbedtls)", "iface", ifname)
		return nil
	}
	if noPSK(b.keyMgmt) {
		e.log.Warn(NoPSKProblem(freq), "iface", ifname, "key_mgmt", b.keyMgmt)
		return nil
	}
	id, err := e.configurator(ctx, c, prev)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if id != prev {
		// A new configurator means a hostapd that forgot everything:
		// pre-authorised devices must be armed again.
		b.chirp = map[string]string{}
	}
	b.configurator = id
	b.mu.Unlock()
	e.log.Info("access point ready for onboarding", "iface", ifname, "ssid", b.ssid, "freq", freq, "dpp_version", caps.Version)
	e.connectedMeanwhile(ctx, b, c)
	return e.armChirps(ctx, b, c)
}

// connectedMeanwhile looks among hostapd's stations for the device of the
// exchange in progress, connected with its new credential. A hostapd too
// busy to answer PING (deriving a PSK file's passphrases) is reconnected
// to, and the AP-STA-CONNECTED it sent meanwhile went to the listener the
// reconnection replaced: without this, a device that connected would be
// reported failed (seen in the lab under load).
func (e *Engine) connectedMeanwhile(ctx context.Context, b *bss, c Ctrl) {
	b.mu.Lock()
	j := b.running
	b.mu.Unlock()
	if j == nil || j.keyID == "" {
		return
	}
	r, err := c.Command(ctx, "STA-FIRST")
	for i := 0; err == nil && i < 1024; i++ {
		first, rest, _ := strings.Cut(r, "\n")
		hw, perr := net.ParseMAC(strings.TrimSpace(first))
		if perr != nil {
			return // no more stations
		}
		st := hostapd.ParseKV(rest)
		if st["keyid"] == j.keyID && strings.Contains(st["flags"], "[AUTHORIZED]") {
			e.log.Info("the device connected while hostapd was not heard", "iface", b.ifname, "device", j.deviceID)
			mac := hw.String()
			e.HandleEvent(hostapd.Event{Iface: b.ifname, Level: 3, Name: "AP-STA-CONNECTED", Args: []string{mac},
				Fields: map[string]string{"keyid": j.keyID}, Raw: "AP-STA-CONNECTED " + mac + " keyid=" + j.keyID})
			return
		}
		r, err = c.Command(ctx, "STA-NEXT "+hw.String())
	}
}

func capabilities(ctx context.Context, c Ctrl) (hostapd.DPPSupport, error) {
	r, err := c.Command(ctx, "GET_CAPABILITY dpp")
	switch {
	case errors.Is(err, hostapd.ErrFail), errors.Is(err, hostapd.ErrUnknownCommand):
		return hostapd.DPPSupport{}, nil
	case err != nil:
		return hostapd.DPPSupport{}, err
	}
	v, ok := strings.CutPrefix(r, "DPP=")
	n, _ := strconv.Atoi(v)
	return hostapd.DPPSupport{Supported: ok && n > 0, Version: n}, nil
}

// configurator restores the persisted configurator key, or creates one and
// persists it: devices hold a connector signed by it, so it must outlive
// hostapd restarts and reboots.
//
// prev is the configurator id from the last connection: after a reconnect
// to a hostapd that did not restart it still holds the key, and adding it
// again would pile up configurators in hostapd.
func (e *Engine) configurator(ctx context.Context, c Ctrl, prev string) (string, error) {
	path := filepath.Join(e.o.StateDir, "configurator.key")
	if key, err := os.ReadFile(path); err == nil && len(key) > 0 {
		k := strings.TrimSpace(string(key))
		if prev != "" {
			if got, err := c.Command(ctx, "DPP_CONFIGURATOR_GET_KEY "+prev); err == nil && got == k {
				return prev, nil
			}
		}
		id, err := c.Command(ctx, "DPP_CONFIGURATOR_ADD key="+k)
		if err != nil {
			return "", fmt.Errorf("failed to restore the DPP configurator: %w", err)
		}
		return id, nil
	}
	id, err := c.Command(ctx, "DPP_CONFIGURATOR_ADD")
	if err != nil {
		return "", fmt.Errorf("failed to create the DPP configurator: %w", err)
	}
	key, err := c.Command(ctx, "DPP_CONFIGURATOR_GET_KEY "+id)
	if err != nil {
		return "", fmt.Errorf("failed to read the DPP configurator key: %w", err)
	}
	if _, err := fsutil.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", err
	}
	e.log.Info("created the DPP configurator key", "file", path)
	return id, nil
}

// Detach marks an access point down after its hostapd went away.
func (e *Engine) Detach(ifname string) {
	if b := e.get(ifname); b != nil {
		b.mu.Lock()
		b.attached = false
		b.mu.Unlock()
	}
}

func (e *Engine) get(ifname string) *bss {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bss[ifname]
}

// pick returns the requested access point, or the first attached one with
// DPP. When none can take the request because access points are being
// reconnected to, it waits for them (each boundedly, see waiter) and
// picks again.
func (e *Engine) pick(ctx context.Context, ifname string) (*bss, error) {
	b, err := e.choose(ifname)
	if err == nil {
		return b, nil
	}
	for _, d := range e.detached(ifname) {
		if !e.waitUp(ctx, d) {
			continue
		}
		if b, err := e.choose(ifname); err == nil {
			return b, nil
		}
	}
	return e.choose(ifname)
}

// detached lists the access points pick could take that are not attached:
// ifname, or any when ifname is empty.
func (e *Engine) detached(ifname string) []*bss {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*bss
	for _, n := range e.order {
		b := e.bss[n]
		if ifname != "" && n != ifname {
			continue
		}
		b.mu.Lock()
		if !b.attached {
			out = append(out, b)
		}
		b.mu.Unlock()
	}
	return out
}

// waitUp waits, if b's hostapd control can, for it to be connected and
// set up, and tells whether it is.
func (e *Engine) waitUp(ctx context.Context, b *bss) bool {
	e.mu.Lock()
	w, ok := b.ctrl.(waiter)
	e.mu.Unlock()
	if !ok {
		return false
	}
	if err := w.Wait(ctx); err != nil {
		e.log.Debug("the access point did not come back", "iface", b.ifname, "err", err)
		return false
	}
	return true
}

// choose is pick without waiting.
func (e *Engine) choose(ifname string) (*bss, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ifname != "" {
		b := e.bss[ifname]
		if b == nil {
			return nil, fault.New(fault.Invalid, "no access point %q", ifname)
		}
		return b, usable(b)
	}
	var last error = fault.New(fault.Unavailable, "no access point is configured (is hostapd running?)")
	for _, n := range e.order {
		b := e.bss[n]
		if last = usable(b); last == nil {
			return b, nil
		}
	}
	return nil, last
}

// notUp says an access point's hostapd is not there (after any wait).
func notUp(ifname string) string {
	return "the access point " + ifname + " is not up (hostapd is not running or restarting)"
}

func usable(b *bss) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.attached:
		return fault.New(fault.Unavailable, "%s", notUp(b.ifname))
	case !b.dpp.Supported:
		return fault.New(fault.Unavailable, "the access point %s has no Wi-Fi Easy Connect (DPP): install wpad-openssl or wpad-mbedtls", b.ifname)
	case noPSK(b.keyMgmt):
		return fault.New(fault.Unavailable, "the access point %s cannot take a device of its own: %s; %s", b.ifname, NoPSKProblem(b.freq), NoPSKFix(b.freq))
	}
	return nil
}

// noPSK tells from hostapd's key_mgmt whether the access point offers no
// WPA-PSK AKM. hostapd looks a station's passphrase up in wpa_psk_file
// only for WPA-PSK: for SAE it takes sae_password entries or the shared
// wpa_passphrase, never the file's lines. On 6 GHz, WPA-PSK is forbidden
// (hostapd refuses it; OpenWrt's generator turns WPA2/WPA3 mixed into SAE
// alone there), so per-device passphrases cannot work. Unknown (hostapd
// did not say) counts as offering it.
func noPSK(keyMgmt string) bool {
	if keyMgmt == "" {
		return false
	}
	for _, m := range strings.Fields(keyMgmt) {
		switch m {
		case "WPA-PSK", "FT-PSK", "WPA-PSK-SHA256":
			return false
		}
	}
	return true
}

// SixGHz tells whether freq (MHz) is in the 6 GHz band.
func SixGHz(freq int) bool { return freq >= 5925 && freq <= 7125 }

// NoPSKProblem and NoPSKFix say, in plain language, why an access point
// that offers no WPA-PSK cannot take devices and what to do.
func NoPSKProblem(freq int) string {
	if SixGHz(freq) {
		return "a 6 GHz access point allows only WPA3-SAE, and hostapd checks a device's own passphrase only for WPA2-PSK: devices cannot be added here with a passphrase of their own"
	}
	return "this access point offers no WPA2-PSK (WPA3-SAE only), and hostapd checks a device's own passphrase only for WPA2-PSK: devices cannot be added here with a passphrase of their own"
}

// NoPSKFix: see NoPSKProblem.
func NoPSKFix(freq int) string {
	if SixGHz(freq) {
		return "add devices on the 2.4 or 5 GHz access point (WPA2-PSK or WPA2/WPA3 mixed); this one keeps serving the household's password"
	}
	return "set this access point's encryption to WPA2-PSK or WPA2/WPA3 mixed (psk2 or sae-mixed), or add devices on another access point"
}

// HandleEvent takes every hostapd event, in order, from every access point.
// It must not block: events for an exchange are queued to it.
func (e *Engine) HandleEvent(ev hostapd.Event) {
	b := e.get(ev.Iface)
	if b == nil {
		return
	}
	switch ev.Name {
	case "AP-STA-CONNECTED":
		e.staConnected(ev)
	case "AP-STA-DISCONNECTED":
		e.staDisconnected(ev)
	case "DPP-MUD-URL":
		e.mudURL(b, ev)
	}
	if strings.HasPrefix(ev.Name, "DPP-") || ev.Name == "AP-STA-CONNECTED" {
		select {
		case b.events <- ev:
		default:
			e.log.Debug("no exchange is reading hostapd events", "iface", ev.Iface, "event", ev.Name)
		}
	}
}

func mac(ev hostapd.Event) string {
	if len(ev.Args) > 0 {
		return strings.ToLower(ev.Args[0])
	}
	return ""
}

func (e *Engine) staConnected(ev hostapd.Event) {
	if keyID := ev.Fields["keyid"]; keyID != "" {
		e.o.Devices.Connected(ev.Iface, keyID, mac(ev))
	}
}

func (e *Engine) staDisconnected(ev hostapd.Event) {
	e.o.Devices.Disconnected(ev.Iface, mac(ev))
}

func (e *Engine) mudURL(b *bss, ev hostapd.Event) {
	// hostapd 2.10 prints "DPP-MUD-URL <url>"; 2.11 the same, sometimes
	// with fields. The exchange in progress on this access point owns it.
	url := strings.TrimSpace(strings.TrimPrefix(ev.Raw, ev.Name))
	if len(ev.Args) > 0 {
		url = ev.Args[0]
	}
	b.mu.Lock()
	var devID string
	if b.running != nil {
		devID = b.running.deviceID
	}
	b.mu.Unlock()
	if devID != "" {
		e.o.Devices.MUDURL(devID, url)
	}
}

// Run processes every access point's queue until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	bs := make([]*bss, 0, len(e.bss))
	for _, b := range e.bss {
		bs = append(bs, b)
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Add(1)
		go func(b *bss) {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-b.queue:
					e.run(ctx, b, j)
				}
			}
		}(b)
	}
	wg.Wait()
	return nil
}

// Progress returns a copy of a request's state.
func (e *Engine) Progress(id string) (Request, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.requests[id]
	if !ok {
		return Request{}, fault.New(fault.NotFound, "no onboarding request %q", id)
	}
	c := *r
	c.cancel = nil
	return c, nil
}

// Cancel stops a queued or running request.
func (e *Engine) Cancel(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.requests[id]
	if !ok {
		return fault.New(fault.NotFound, "no onboarding request %q", id)
	}
	if r.cancel != nil {
		r.cancel()
	}
	if r.State == "queued" {
		r.State, r.Error = "cancelled", "cancelled before it started"
	}
	return nil
}

func (e *Engine) update(r *Request, fn func(r *Request)) {
	e.mu.Lock()
	fn(r)
	e.mu.Unlock()
}

// OnboardRequest is one exchange to run: how the device is reached (its
// scanned code, or a PKEX code) and the credential to give it. The device
// owner decides which device it is and its credential's key id and VLAN.
type OnboardRequest struct {
	Method string // qr or pkex
	URI    *URI   // qr: the device's parsed code
	// Code and Identifier (pkex), as printed on the device.
	Code, Identifier string
	// Ifname is the access point; empty picks the first one that can.
	Ifname   string
	DeviceID string
	KeyID    string
	VLAN     int
	// Begin, if set, runs once the request is accepted, with the access
	// point chosen, before the exchange is queued; an error refuses the
	// request.
	Begin func(ifname string) error
}

// CheckPKEX checks a PKEX code and identifier before they reach hostapd.
// Values hostapd would read more into are refused here, before anything
// is queued, and again where the command is built.
func CheckPKEX(code, ident string) error {
	if err := hostapd.CheckPKEXCode(code); err != nil {
		return fault.New(fault.Invalid, "%v", err)
	}
	if err := hostapd.CheckPKEXIdentifier(ident); err != nil {
		return fault.New(fault.Invalid, "%v", err)
	}
	return nil
}

// Onboard checks a request and queues it on its access point. The request
// runs in the background; Progress follows it. An access point being
// reconnected to is waited for, within ctx (see pick).
func (e *Engine) Onboard(ctx context.Context, r OnboardRequest) (Request, error) {
	j := &job{method: r.Method, uri: r.URI, code: r.Code, ident: r.Identifier, deviceID: r.DeviceID, keyID: r.KeyID, vlan: r.VLAN}
	switch r.Method {
	case "qr":
		if r.URI == nil {
			return Request{}, fault.New(fault.Invalid, "no device code to onboard with")
		}
	case "pkex":
		if err := CheckPKEX(r.Code, r.Identifier); err != nil {
			return Request{}, err
		}
	default:
		return Request{}, fault.New(fault.Invalid, "method must be qr or pkex")
	}
	b, err := e.pick(ctx, r.Ifname)
	if err != nil {
		return Request{}, err
	}
	if r.Method == "pkex" {
		if err := b.pkexAllowed(e.o); err != nil {
			return Request{}, err
		}
		if !b.claimPKEX() {
			return Request{}, fault.New(fault.Conflict, "a PKEX code is already waiting on %s; finish or cancel it first", b.ifname)
		}
	}
	if r.Begin != nil {
		if err := r.Begin(b.ifname); err != nil {
			if r.Method == "pkex" {
				b.releasePKEX()
			}
			return Request{}, err
		}
	}
	j.req = &Request{ID: credential.RandomID("o-"), DeviceID: r.DeviceID, State: "queued", Step: "waiting for the access point"}
	e.mu.Lock()
	e.requests[j.req.ID] = j.req
	e.mu.Unlock()
	select {
	case b.queue <- j:
	default:
		if j.method == "pkex" {
			b.releasePKEX()
		}
		e.fail(j, "too many onboardings are waiting on this access point", "wait a minute and try again")
		e.giveUp(b, j, "too many onboardings waiting")
		return Request{}, fault.New(fault.Conflict, "too many onboardings are waiting on %s", b.ifname)
	}
	e.log.Info("onboarding queued", "request", j.req.ID, "device", r.DeviceID, "method", r.Method, "iface", b.ifname)
	return e.Progress(j.req.ID)
}

func (b *bss) pkexAllowed(o Options) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := o.Now()
	kept := b.pkexFails[:0]
	for _, t := range b.pkexFails {
		if now.Sub(t) < o.PKEXWindow {
			kept = append(kept, t)
		}
	}
	b.pkexFails = kept
	if o.PKEXAttempts > 0 && len(kept) >= o.PKEXAttempts {
		return fault.New(fault.Conflict, "too many wrong PKEX codes on %s; wait %s and try again", b.ifname, o.PKEXWindow.Round(time.Minute))
	}
	return nil
}

// claimPKEX reserves the access point's single PKEX slot; hostapd keeps one
// code per BSS, so a second one would silently replace the first.
func (b *bss) claimPKEX() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pkexBusy {
		return false
	}
	b.pkexBusy = true
	return true
}

func (b *bss) releasePKEX() {
	b.mu.Lock()
	b.pkexBusy = false
	b.mu.Unlock()
}

// run carries one exchange through, start to finish.
func (e *Engine) run(ctx context.Context, b *bss, j *job) {
	e.mu.Lock()
	cancelled := j.req.State == "cancelled"
	e.mu.Unlock()
	if cancelled {
		if j.method == "pkex" {
			b.releasePKEX()
		}
		e.giveUp(b, j, "cancelled")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	e.update(j.req, func(r *Request) {
		r.State, r.Step, r.cancel = "running", "sending the device its credential over Wi-Fi Easy Connect", cancel
	})
	// Events from an earlier exchange are stale.
	for len(b.events) > 0 {
		<-b.events
	}
	b.mu.Lock()
	b.running = j
	b.mu.Unlock()
	err := e.exchange(ctx, b, j)
	b.mu.Lock()
	b.running = nil
	b.mu.Unlock()
	var oe *outcome
	if err != nil && !errors.As(err, &oe) {
		oe = &outcome{msg: "the onboarding failed: " + err.Error(), hint: "check that the router's Wi-Fi is up and try again"}
	}
	if j.method == "pkex" {
		// Free the slot and count a wrong code before the outcome is
		// visible: a client retrying at once must not find it busy.
		if oe != nil && oe.wrongCode {
			b.mu.Lock()
			b.pkexFails = append(b.pkexFails, e.o.Now())
			b.mu.Unlock()
		}
		b.releasePKEX()
	}
	if err != nil {
		e.mu.Lock()
		configured := j.req.State == "configured"
		e.mu.Unlock()
		if ctx.Err() == context.Canceled && !configured {
			oe = &outcome{msg: "cancelled", hint: "", state: "cancelled"}
		}
		// The credential goes before the failure shows: whoever reads
		// it finds the device as the failure leaves it.
		e.giveUp(b, j, oe.msg)
		e.fail(j, oe.msg, oe.hint)
		if oe.state != "" {
			e.update(j.req, func(r *Request) { r.State = oe.state })
		}
		b.ctrl.Command(context.Background(), "DPP_STOP_LISTEN")
		e.armChirps(context.Background(), b, nil)
		return
	}
	e.update(j.req, func(r *Request) { r.State, r.Step = "connected", "the device is connected with its own credential" })
	e.log.Info("onboarding done", "request", j.req.ID, "device", j.deviceID)
	e.armChirps(context.Background(), b, nil)
}

// outcome is a failure explained for people.
type outcome struct {
	msg, hint, state string
	wrongCode        bool
}

func (o *outcome) Error() string { return o.msg }

func (e *Engine) fail(j *job, msg, hint string) {
	e.update(j.req, func(r *Request) {
		if r.State != "cancelled" {
			r.State = "failed"
		}
		r.Error, r.Hint, r.Step = msg, hint, ""
	})
	e.log.Warn("onboarding failed", "request", j.req.ID, "device", j.deviceID, "reason", msg)
}

// giveUp ends an exchange that did not bring the device onto the network:
// the credential it wrote goes again, unless the device received it and
// may still connect with it, and the device owner hears of it.
func (e *Engine) giveUp(b *bss, j *job, why string) {
	if !j.configured {
		if err := b.psk.Remove(j.keyID); err == nil {
			reloadPSK(context.Background(), b.ctrl, b)
		}
	}
	e.o.Devices.Failed(j.deviceID, j.keyID, j.configured, why)
}

// exchange runs the hostapd commands of one onboarding and waits for its
// outcome. The device's credential is in the PSK file before the exchange
// starts, so it can connect the moment it is configured.
func (e *Engine) exchange(ctx context.Context, b *bss, j *job) error {
	// hostapd may have been lost since the request was queued (or while
	// the exchange before it ran): it gets the same wait as a new request.
	if _, ok := b.ctrl.(waiter); ok && !e.waitUp(ctx, b) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &outcome{msg: notUp(b.ifname), hint: "check that the router's Wi-Fi is up and try again"}
	}
	pass, err := credential.NewPassphrase()
	if err != nil {
		return err
	}
	b.mu.Lock()
	ssid := b.ssid
	b.mu.Unlock()
	pass = e.secret(b, ssid, pass)
	if err := b.psk.Set(j.keyID, j.vlan, pass); err != nil {
		return err
	}
	if _, err := reloadPSK(ctx, b.ctrl, b); err != nil {
		return err
	}
	b.mu.Lock()
	cfg, ssid, freq := b.configurator, b.ssid, b.freq
	b.mu.Unlock()
	if cfg == "" {
		return &outcome{msg: "the access point is not ready for onboarding (hostapd restarting)", hint: "try again in a few seconds"}
	}
	params := fmt.Sprintf("conf=%s ssid=%s %s configurator=%s", e.o.Conf, hex.EncodeToString([]byte(ssid)), pass.DPPParam(), cfg)
	b.ctrl.Command(ctx, "DPP_STOP_LISTEN")

	switch j.method {
	case "qr":
		cmd, err := hostapd.QRCode(j.uri.Raw)
		if err != nil {
			return err
		}
		peer, err := b.ctrl.Command(ctx, cmd)
		if err != nil {
			return &outcome{msg: "the router's Wi-Fi did not accept the device's code", hint: "scan the code on the device again"}
		}
		defer b.ctrl.Command(context.Background(), "DPP_BOOTSTRAP_REMOVE "+peer)
		if _, err := b.ctrl.Command(ctx, "DPP_AUTH_INIT peer="+peer+" "+params); err != nil {
			return &outcome{msg: "the router could not start talking to the device", hint: "make sure the device is in pairing mode and close to the router, then try again"}
		}
	case "pkex":
		own, err := b.ctrl.Command(ctx, "DPP_BOOTSTRAP_GEN type=pkex")
		if err != nil {
			return err
		}
		defer b.ctrl.Command(context.Background(), "DPP_BOOTSTRAP_REMOVE "+own)
		if _, err := b.ctrl.Command(ctx, `SET dpp_configurator_params  `+params); err != nil {
			return err
		}
		cmd, err := hostapd.PKEXAdd(own, j.ident, j.code)
		if err != nil {
			return err
		}
		id, err := b.ctrl.Command(ctx, cmd)
		if err != nil {
			return err
		}
		defer b.ctrl.Command(context.Background(), "DPP_PKEX_REMOVE "+id)
		if _, err := b.ctrl.Command(ctx, "DPP_LISTEN "+strconv.Itoa(freq)); err != nil {
			return err
		}
		e.update(j.req, func(r *Request) { r.Step = "waiting for the device to start pairing with its code" })
	}
	return e.await(ctx, b, j)
}

// await follows hostapd's events until the device has connected with its
// own credential, or the exchange failed.
func (e *Engine) await(ctx context.Context, b *bss, j *job) error {
	configured := false
	for {
		select {
		case <-ctx.Done():
			if configured {
				return &outcome{msg: "the device received its credential but has not connected", hint: "check that it is within reach of the router; it will keep trying. If not, remove it and add it again"}
			}
			if ctx.Err() == context.DeadlineExceeded {
				return &outcome{msg: "the device did not answer in time", hint: "put the device in pairing mode (see its manual), bring it close to the router, and try again"}
			}
			return ctx.Err()
		case ev := <-b.events:
			switch ev.Name {
			case "DPP-AUTH-SUCCESS":
				e.update(j.req, func(r *Request) { r.Step = "the device and the router recognised each other" })
			case "DPP-CONF-SENT":
				configured = true
				j.configured = true
				e.o.Devices.Configured(j.deviceID)
				e.update(j.req, func(r *Request) {
					r.State, r.Step = "configured", "the device has its credential and is connecting"
				})
			case "AP-STA-CONNECTED":
				if ev.Fields["keyid"] == j.keyID {
					return nil
				}
			case "DPP-AUTH-INIT-FAILED":
				return &outcome{msg: "the device did not answer", hint: "put the device in pairing mode (see its manual), bring it close to the router, and try again"}
			case "DPP-NOT-COMPATIBLE":
				return &outcome{msg: "the device and the router could not agree on how to pair", hint: "the device may need a firmware update"}
			case "DPP-CONF-FAILED":
				return &outcome{msg: "the device refused the network's settings", hint: "check that the device supports this network's security (WPA2/WPA3)"}
			case "DPP-PKEX-T-LIMIT":
				return &outcome{msg: "too many wrong codes", hint: "check the code printed on the device and try again later", wrongCode: true}
			case "DPP-FAIL":
				return failure(ev)
			}
		}
	}
}

// failure explains a DPP-FAIL event.
func failure(ev hostapd.Event) error {
	text := strings.TrimSpace(strings.TrimPrefix(ev.Raw, ev.Name))
	switch {
	case strings.Contains(text, "Configurator rejected configuration"),
		strings.Contains(text, "Configuration Request") && strings.Contains(text, "Configurator"):
		// Both sides wanted to be the configurator: the device asked to
		// configure the router (see the lab notes).
		return &outcome{msg: "the device asked to configure the router instead of joining it", hint: "put the device in its 'join a network' or 'enrollee' mode and try again"}
	case strings.Contains(text, "PKEX") || strings.Contains(strings.ToLower(text), "mismatch"):
		return &outcome{msg: "the code did not match", hint: "check the code printed on the device and try again", wrongCode: true}
	case strings.Contains(text, "auth"), strings.Contains(text, "Auth"):
		return &outcome{msg: "the device and the router could not authenticate each other", hint: "make sure you scanned this device's own code, then try again"}
	}
	return &outcome{msg: "the pairing failed (" + text + ")", hint: "try again; if it keeps failing, restart the device"}
}

// reloadTimeout allows for hostapd deriving every passphrase in the PSK
// file (PBKDF2) on reload, seconds on a slow router with many devices.
const reloadTimeout = 20 * time.Second

// secret is what b's PSK file and DPP get for a device's passphrase. With
// conf=sta-psk it is the PSK derived once here for the access point's SSID:
// hostapd uses a PSK line as it is, where a passphrase line costs it one
// PBKDF2 (4096 rounds) on every RELOAD_WPA_PSK, for every line (1000
// pre-authorised devices, 1000 derivations per reload on a slow CPU). The
// passphrase stays when SAE is offered (SAE needs it, and DPP refuses a PSK
// for it), when the SSID is one hostapd shows escaped (GET_CONFIG gives no
// raw bytes to derive from), or when another access point with another SSID
// shares the file (a PSK is bound to one SSID).
func (e *Engine) secret(b *bss, ssid string, p credential.Passphrase) credential.Passphrase {
	if !e.derive(b, ssid) {
		return p
	}
	return p.PSK([]byte(ssid))
}

// derive reports whether secret derives PSKs for b.
func (e *Engine) derive(b *bss, ssid string) bool {
	if e.o.Conf != "sta-psk" || ssid == "" || strings.ContainsRune(ssid, '\\') {
		return false
	}
	shared := true
	e.each(func(o *bss) {
		if o == b || o.psk.Path() != b.psk.Path() {
			return
		}
		o.mu.Lock()
		if o.attached && o.ssid != ssid {
			shared = false
		}
		o.mu.Unlock()
	})
	return shared
}

// reloadPSK has hostapd re-read b's PSK file, and b's file remembers what
// hostapd was told (Attach reloads only a file that changed since).
func reloadPSK(ctx context.Context, c Ctrl, b *bss) (string, error) {
	sum, serr := b.psk.Sum()
	ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
	defer cancel()
	r, err := c.Command(ctx, "RELOAD_WPA_PSK")
	if err == nil && serr == nil {
		b.psk.Told(b.ifname, sum)
	}
	return r, err
}
