package tr069

import (
	"fmt"
	"regexp"
	"strings"
)

// UCI maps a parameter to an option of /etc/config/trustjoin.
type UCI struct {
	// Section is a named section ("main") or, under a multi-instance
	// object, empty: the instance's own section.
	Section string
	// Option is the option's name; "@Name" is the section's own name.
	Option string
	List   bool
}

// Ubus maps a parameter to a field of a trustjoin ubus method's reply.
type Ubus struct {
	Method string
	// Key is a path into the reply ("counters.connected"); under a
	// ubus-backed table, into the instance's element.
	Key string
	// Arg, under a table, is the argument that names the instance (the
	// call is about that instance): its section under a UCI-backed table,
	// its key under a ubus-backed one (bbfdm passes its number as
	// "instance" instead).
	Arg string
}

// Call is the trustjoin ubus method a write under a ubus-backed table
// turns into: called with the instance (its key as "id", or for bbfdm its
// number as "instance") and Arg = the new value.
type Call struct {
	Method string
	Arg    string
}

// Range bounds an unsignedInt.
type Range struct{ Min, Max uint32 }

// Param is one leaf parameter.
type Param struct {
	Name  string
	Type  string // string, boolean, unsignedInt, unsignedLong, dateTime
	Write bool
	// What a value must be, declared so that the agents refuse a bad
	// one up front (fault 9007) rather than trustjoin after the commit:
	// Enum for a fixed set, Range for numbers, MaxLen and Pattern (POSIX
	// extended, anchored) for strings; for lists, each element.
	Enum  []string
	Range *Range
	// Never allows 0 besides Range (a lifetime: 0 for never).
	Never   bool
	MaxLen  int
	Pattern string
	// Default is read when the option or field is absent: what trustjoin
	// takes then, typed (false, 0, the Unknown Time of TR-106), never "".
	Default string
	UCI     *UCI
	Ubus    *Ubus
	Set     *Call
	// Hidden parameters read as "" (TR-106 for values not given back:
	// a DPP URI lets whoever holds it configure the device).
	Hidden bool
	// Count names the multi-instance object this NumberOfEntries
	// parameter counts ("Segment.{i}.").
	Count string
	// Alias is the TR-069 Alias of a table's instance, kept by the agent
	// (bbfdm's dmmap, the easycwmp script's instance map).
	Alias bool
}

// List reports whether the parameter is a comma-separated list.
func (p Param) List() bool { return p.UCI != nil && p.UCI.List }

// Object is one object of the subtree; Path is relative to the root
// ("" for the root, "Segment.{i}.").
type Object struct {
	Path string
	// Instances, for a multi-instance object: UCI sections of a type or
	// the elements of a ubus array (method and key).
	UCIType string
	Ubus    *Ubus
	// Key is the element field naming a ubus-backed instance ("id").
	Key string
	// Access allows an ACS to add and delete instances (UCI sections).
	Access bool
	// UniqueKeys name the parameters that identify an instance.
	UniqueKeys []string
	Params     []Param
}

// Value shapes shared by several parameters.
const (
	// A UCI section name, as segments and controllers are named.
	namePattern = `^[A-Za-z0-9_]{1,32}$`
	// An interface name as the kernel takes it (1-15 bytes).
	ifnamePattern = `^[^[:space:]/:]{1,15}$`
	// An IPv4 address or prefix, or (more loosely) an IPv6 one.
	addressPattern = `^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(/([0-9]|[12][0-9]|3[0-2]))?$|^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))?$`
	// A TR-069 Alias: a letter first, so it is never an instance number.
	aliasPattern = `^[A-Za-z][A-Za-z0-9_.:-]{0,63}$`
	// A DPP bootstrapping URI (Wi-Fi Easy Connect 5.2.1): printable
	// TAG:value; fields, one of them the public key K:, and a final ";".
	// trustjoin checks the key itself when it applies the entry.
	dppPattern = `^DPP:([A-Z]+:[ -:<-~]*;)*K:[A-Za-z0-9+/_=-]+;([A-Z]+:[ -:<-~]*;)*;$`
	// MaxURI is the longest URI the agents carry: bbfdm copies a UCI
	// value into 1024 bytes (json_plugin.c, uci_v1_set_value).
	MaxURI = 1023
	// UnknownTime is TR-106's dateTime for "never" or "not known".
	UnknownTime = "0001-01-01T00:00:00Z"
)

// Model is the one description of the data model.
func Model() []Object {
	u := func(sec, opt string) *UCI { return &UCI{Section: sec, Option: opt} }
	own := func(opt string) *UCI { return &UCI{Option: opt} }
	ownList := func(opt string) *UCI { return &UCI{Option: opt, List: true} }
	st := func(key string) *Ubus { return &Ubus{Method: "status", Key: key} }
	el := func(key string) *Ubus { return &Ubus{Key: key} }
	pa := func(key string) *Ubus { return &Ubus{Method: "preauth_get", Key: key, Arg: "section"} }
	about := func(method, key string) *Ubus { return &Ubus{Method: method, Key: key, Arg: "id"} }
	rng := func(lo, hi uint32) *Range { return &Range{lo, hi} }
	alias := Param{Name: "Alias", Type: "string", Write: true, MaxLen: 64, Pattern: aliasPattern, Alias: true}
	name := Param{Name: "Name", Type: "string", Write: true, MaxLen: 32, Pattern: namePattern, UCI: own("@Name")}
	return []Object{
		{Path: "", Params: []Param{
			{Name: "Enable", Type: "boolean", Write: true, Default: "1", UCI: u("main", "enabled")},
			{Name: "Version", Type: "string", Ubus: st("version")},
			{Name: "Ready", Type: "boolean", Default: "false", Ubus: st("ready")},
			{Name: "ConfigRejected", Type: "string", Ubus: st("config.rejected")},
			{Name: "ConfigRejectedAt", Type: "dateTime", Default: UnknownTime, Ubus: st("config.rejected_at")},
			{Name: "ConfigLoadedAt", Type: "dateTime", Default: UnknownTime, Ubus: st("config.loaded_at")},
			{Name: "RadioNumberOfEntries", Type: "unsignedInt", Default: "0", Count: "Radio.{i}."},
			{Name: "SegmentNumberOfEntries", Type: "unsignedInt", Default: "0", Count: "Segment.{i}."},
			{Name: "ControllerNumberOfEntries", Type: "unsignedInt", Default: "0", Count: "Controller.{i}."},
			{Name: "DeviceNumberOfEntries", Type: "unsignedInt", Default: "0", Count: "Device.{i}."},
			{Name: "PreAuthorizedNumberOfEntries", Type: "unsignedInt", Default: "0", Count: "PreAuthorized.{i}."},
			{Name: "UnknownNumberOfEntries", Type: "unsignedInt", Default: "0", Count: "Unknown.{i}."},
		}},
		{Path: "Onboarding.", Params: []Param{
			{Name: "DefaultSegment", Type: "string", Write: true, MaxLen: 32, Pattern: namePattern, Default: "iot", UCI: u("onboarding", "default_segment")},
			{Name: "AKM", Type: "string", Write: true, Enum: []string{"psk", "sae", "psk-sae"}, Default: "psk", UCI: u("onboarding", "akm")},
			{Name: "Timeout", Type: "unsignedInt", Write: true, Range: rng(10, 3600), Default: "120", UCI: u("onboarding", "timeout")},
			{Name: "PKEXAttempts", Type: "unsignedInt", Write: true, Range: rng(1, 100), Default: "5", UCI: u("onboarding", "pkex_attempts")},
			{Name: "PKEXWindow", Type: "unsignedInt", Write: true, Range: rng(10, 86400), Default: "600", UCI: u("onboarding", "pkex_window")},
			{Name: "LegacyPassphrase", Type: "boolean", Write: true, Default: "0", UCI: u("onboarding", "legacy_passphrase")},
		}},
		{Path: "Stats.", Params: []Param{
			{Name: "DevicesOnboarded", Type: "unsignedInt", Default: "0", Ubus: st("counters.onboarded")},
			{Name: "DevicesConnected", Type: "unsignedInt", Default: "0", Ubus: st("counters.connected")},
			{Name: "DevicesQuarantined", Type: "unsignedInt", Default: "0", Ubus: st("counters.quarantined")},
			{Name: "OnboardingFailures", Type: "unsignedInt", Default: "0", Ubus: st("counters.onboarding_failures")},
			{Name: "MUDViolations", Type: "unsignedInt", Default: "0", Ubus: st("counters.mud_violations")},
			{Name: "DevicesNeedingReonboarding", Type: "unsignedInt", Default: "0", Ubus: st("counters.needs_reonboarding")},
			// Changes with every security event: an ACS sets active
			// notification on it to hear of them.
			{Name: "SecurityEvents", Type: "unsignedInt", Default: "0", Ubus: st("counters.security_events")},
			{Name: "UnknownDevices", Type: "unsignedInt", Default: "0", Ubus: st("counters.unknown_devices")},
		}},
		{Path: "Radio.{i}.", Ubus: &Ubus{Method: "status", Key: "radios"}, Key: "ifname", UniqueKeys: []string{"Interface"}, Params: []Param{
			{Name: "Interface", Type: "string", Ubus: el("ifname")},
			{Name: "SSID", Type: "string", Ubus: el("ssid")},
			{Name: "DPPSupported", Type: "boolean", Default: "false", Ubus: el("dpp")},
			{Name: "DPPVersion", Type: "unsignedInt", Default: "0", Ubus: el("dpp_version")},
			{Name: "Problem", Type: "string", Ubus: el("problem")},
		}},
		// A section the ACS adds is empty until its values are set:
		// trustjoin skips empty sections rather than refusing them.
		{Path: "Segment.{i}.", UCIType: "segment", Access: true, UniqueKeys: []string{"Name"}, Params: []Param{
			alias,
			// Renaming a segment renames its section: what names it
			// (reach, the default segment, devices) must follow.
			name,
			{Name: "VLAN", Type: "unsignedInt", Write: true, Range: rng(1, 4094), Default: "0", UCI: own("vlan")},
			{Name: "Internet", Type: "boolean", Write: true, Default: "0", UCI: own("internet")},
			{Name: "Isolate", Type: "boolean", Write: true, Default: "0", UCI: own("isolate")},
			{Name: "Quarantine", Type: "boolean", Write: true, Default: "0", UCI: own("quarantine")},
			{Name: "Reach", Type: "string", Write: true, MaxLen: 32, Pattern: namePattern, UCI: ownList("reach")},
			{Name: "Interfaces", Type: "string", Write: true, MaxLen: 15, Pattern: ifnamePattern, UCI: ownList("interface")},
			{Name: "Bridge", Type: "string", Write: true, MaxLen: 15, Pattern: optional(ifnamePattern), UCI: own("bridge")},
			{Name: "Uplink", Type: "string", Write: true, MaxLen: 15, Pattern: optional(ifnamePattern), UCI: own("uplink")},
			{Name: "Watch", Type: "string", Write: true, Enum: []string{"off", "notify", "quarantine"}, Default: "notify", UCI: own("watch")},
			// How long a credential given in the segment lasts, in
			// seconds: 0 for ever, else a minute to ten years (as the
			// daemon takes option lifetime).
			{Name: "Lifetime", Type: "unsignedInt", Write: true, Range: rng(60, 10*365*86400), Never: true, Default: "0", UCI: own("lifetime")},
		}},
		// What MUD "controller" and "my-controller" rules reach.
		{Path: "Controller.{i}.", UCIType: "controller", Access: true, UniqueKeys: []string{"Name"}, Params: []Param{
			alias,
			name,
			{Name: "Addresses", Type: "string", Write: true, MaxLen: 43, Pattern: addressPattern, UCI: ownList("address")},
			{Name: "Classes", Type: "string", Write: true, MaxLen: 256, Pattern: `^[^[:space:],]*:[^[:space:],]*$`, UCI: ownList("class")},
			{Name: "MUDURLs", Type: "string", Write: true, MaxLen: 256, Pattern: `^https://[^[:space:],]+$`, UCI: ownList("mud_url")},
		}},
		// Devices are the daemon's: read from ubus, written by calls.
		{Path: "Device.{i}.", Ubus: &Ubus{Method: "devices", Key: "devices"}, Key: "id", UniqueKeys: []string{"ID"}, Params: []Param{
			{Name: "ID", Type: "string", Ubus: el("id")},
			{Name: "Name", Type: "string", Ubus: el("name")},
			{Name: "State", Type: "string", Ubus: el("state")},
			{Name: "Connected", Type: "boolean", Default: "false", Ubus: el("connected")},
			{Name: "LastSeen", Type: "dateTime", Default: UnknownTime, Ubus: el("last_seen")},
			{Name: "Segment", Type: "string", Write: true, MaxLen: 32, Pattern: namePattern, Ubus: el("segment"), Set: &Call{Method: "move", Arg: "segment"}},
			// A write of false releases the device (the rpcd plugin's
			// quarantine method calls release for quarantined=0).
			{Name: "Quarantined", Type: "boolean", Write: true, Default: "false", Ubus: el("quarantined"), Set: &Call{Method: "quarantine", Arg: "quarantined"}},
			{Name: "MUDURL", Type: "string", Ubus: el("mud.url")},
			{Name: "MUDStatus", Type: "string", Default: "none", Ubus: el("mud.status")},
			// What the firewall holds for the device and judged since it
			// was put in; false and 0 while the firewall does not know it.
			{Name: "FirewallConfined", Type: "boolean", Default: "false", Ubus: el("firewall.confined")},
			{Name: "AcceptedPackets", Type: "unsignedLong", Default: "0", Ubus: el("firewall.accepted_packets")},
			{Name: "AcceptedBytes", Type: "unsignedLong", Default: "0", Ubus: el("firewall.accepted_bytes")},
			{Name: "DroppedPackets", Type: "unsignedLong", Default: "0", Ubus: el("firewall.dropped_packets")},
			{Name: "DroppedBytes", Type: "unsignedLong", Default: "0", Ubus: el("firewall.dropped_bytes")},
			// When its credential expires (its segment's lifetime); the
			// Unknown Time for never.
			{Name: "CredentialExpires", Type: "dateTime", Default: UnknownTime, Ubus: el("credential.expires_at")},
		}},
		// What the device did lately, as its firewall saw it (kept in
		// RAM since the daemon started): packets its policy dropped,
		// connections it opened and others opened to it, and the latest
		// destinations of each (name or address:port/protocol, newest
		// first, at most 16).
		{Path: "Device.{i}.Stats.", Params: []Param{
			{Name: "Dropped", Type: "unsignedLong", Default: "0", Ubus: about("behaviour", "dropped")},
			{Name: "Opened", Type: "unsignedLong", Default: "0", Ubus: about("behaviour", "opened")},
			{Name: "Inbound", Type: "unsignedLong", Default: "0", Ubus: about("behaviour", "inbound")},
			{Name: "DroppedDestinations", Type: "string", Ubus: about("behaviour", "dropped_to")},
			{Name: "OpenedDestinations", Type: "string", Ubus: about("behaviour", "opened_to")},
		}},
		// Pre-authorised devices the ISP lists (section "preauth"): each
		// onboards with no touch when it announces itself. The URI goes
		// through UCI, which carries what a ubus argument cannot (bbfdm
		// cuts those at 255 bytes); the daemon checks every entry when it
		// loads the configuration and refuses it whole for a bad one.
		{Path: "PreAuthorized.{i}.", UCIType: "preauth", Access: true, UniqueKeys: []string{"ID"}, Params: []Param{
			alias,
			{Name: "ID", Type: "string", UCI: own("@Name")},
			{Name: "URI", Type: "string", Write: true, Hidden: true, MaxLen: MaxURI, Pattern: dppPattern, UCI: own("uri")},
			// Empty: the onboarding default segment.
			{Name: "Segment", Type: "string", Write: true, MaxLen: 32, Pattern: optional(namePattern), UCI: own("segment")},
			// A device name (devname.Check): no control characters, no
			// space at either end; the marks that reorder text trustjoin
			// refuses when it loads the file.
			{Name: "Name", Type: "string", Write: true, MaxLen: 64, Pattern: `^([^[:cntrl:][:space:]]([^[:cntrl:]]*[^[:cntrl:][:space:]])?)?$`, UCI: own("name")},
			// none: not (yet) in force: incomplete, or in a configuration
			// not loaded (see ConfigRejected); pending: waiting for the
			// device; onboarded: DeviceID is the device it became.
			{Name: "Status", Type: "string", Enum: []string{"none", "pending", "onboarded"}, Default: "none", Ubus: pa("status")},
			{Name: "URIHash", Type: "string", Ubus: pa("uri_hash")},
			{Name: "DeviceID", Type: "string", Ubus: pa("device_id")},
			{Name: "AddedAt", Type: "dateTime", Default: UnknownTime, Ubus: pa("added_at")},
		}},
		// Devices on the network the household did not onboard (on the
		// shared password, wired, or on a segment not their own), as last
		// seen; read-only: the household acts on them in LuCI or with
		// trustjoin unknown.
		{Path: "Unknown.{i}.", Ubus: &Ubus{Method: "unknown", Key: "unknown"}, Key: "mac", UniqueKeys: []string{"MACAddress"}, Params: []Param{
			{Name: "MACAddress", Type: "string", Ubus: el("mac")},
			{Name: "Kind", Type: "string", Ubus: el("kind")},
			{Name: "Interface", Type: "string", Ubus: el("iface")},
			{Name: "Segment", Type: "string", Ubus: el("segment")},
			// For a device on a segment not its own: which, and where
			// it belongs.
			{Name: "DeviceID", Type: "string", Ubus: el("device")},
			{Name: "ExpectedSegment", Type: "string", Ubus: el("expected_segment")},
			{Name: "Hostname", Type: "string", Ubus: el("hostname")},
			{Name: "Addresses", Type: "string", Ubus: el("address_list")},
			{Name: "FirstSeen", Type: "dateTime", Default: UnknownTime, Ubus: el("first_seen")},
			{Name: "LastSeen", Type: "dateTime", Default: UnknownTime, Ubus: el("last_seen")},
			// block or guest once the household acted on it.
			{Name: "Handled", Type: "string", Ubus: el("handled")},
		}},
		{Path: "Firewall.", Params: []Param{
			{Name: "Enable", Type: "boolean", Write: true, Default: "1", UCI: u("main", "firewall")},
			{Name: "DHCPLeases", Type: "string", Write: true, MaxLen: 256, Pattern: `^(/[^,]*)?$`, UCI: u("main", "dhcp_leases")},
		}},
		{Path: "MUD.", Params: []Param{
			{Name: "Enable", Type: "boolean", Write: true, Default: "1", UCI: u("mud", "enabled")},
			{Name: "SignaturePolicy", Type: "string", Write: true, Enum: []string{"require", "approve", "allow"}, Default: "approve", UCI: u("mud", "signature_policy")},
			{Name: "TrustAnchors", Type: "string", Write: true, MaxLen: 256, Pattern: `^/[^,]*$`, UCI: &UCI{Section: "mud", Option: "trust_anchor", List: true}},
			{Name: "MaxSize", Type: "unsignedInt", Write: true, Range: rng(1024, 1<<20), Default: "65536", UCI: u("mud", "max_size")},
			{Name: "FetchTimeout", Type: "unsignedInt", Write: true, Range: rng(1, 300), Default: "15", UCI: u("mud", "fetch_timeout")},
		}},
		{Path: "BRSKI.", Params: []Param{
			{Name: "Enable", Type: "boolean", Write: true, Default: "0", UCI: u("brski", "enabled")},
			{Name: "RegistrarHost", Type: "string", Write: true, MaxLen: 253, Pattern: `^[A-Za-z0-9._:-]*$`, UCI: u("brski", "registrar_host")},
			{Name: "RegistrarPort", Type: "unsignedInt", Write: true, Range: rng(1, 65535), Default: "443", UCI: u("brski", "registrar_port")},
			{Name: "Port", Type: "unsignedInt", Write: true, Range: rng(1, 65535), Default: "8443", UCI: u("brski", "port")},
		}},
	}
}

// Table is the multi-instance object path is in ("Device.{i}." for
// "Device.{i}.Stats."), or false.
func Table(path string) (Object, bool) {
	i := strings.LastIndex(path, "{i}.")
	if i < 0 {
		return Object{}, false
	}
	return Find(path[:i+len("{i}.")])
}

// optional lets an anchored pattern match the empty string too.
func optional(p string) string {
	return "^(" + strings.TrimSuffix(strings.TrimPrefix(p, "^"), "$") + ")?$"
}

// Find returns the object at path.
func Find(path string) (Object, bool) {
	for _, o := range Model() {
		if o.Path == path {
			return o, true
		}
	}
	return Object{}, false
}

// vendorRE follows TR-106: an OUI as six upper-case hex digits, or a
// domain name the vendor owns, upper case, its dots written as '-' or '_'
// (so at least one of those).
var vendorRE = regexp.MustCompile(`^([0-9A-F]{6}|[A-Z0-9]+([_-][A-Z0-9]+)+)$`)

// Root returns the subtree's root path for vendor.
func Root(vendor string) (string, error) {
	if !vendorRE.MatchString(vendor) {
		return "", fmt.Errorf("vendor %q: want the ISP's OUI (six upper-case hex digits, like 00D09E) or a domain it owns in upper case, dots as '-' (like EXAMPLE-COM) (TR-106)", vendor)
	}
	return "Device.X_" + vendor + "_TrustJoin.", nil
}

// Template is the vendor the shipped files are generated for; it is not a
// valid vendor (TR-106), so a build must name one (scripts/build/vendor.sh).
const Template = "TRUSTJOIN"

// root is Root for generating: the template, or a valid vendor.
func root(vendor string) (string, error) {
	if vendor == Template {
		return "Device.X_" + Template + "_TrustJoin.", nil
	}
	return Root(vendor)
}
