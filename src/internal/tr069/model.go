package tr069

import (
	"encoding/json"
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
	// multi-instance object, into the instance's element.
	Key string
}

// Call is a trustjoin ubus method a write, an AddObject or a DeleteObject
// turns into.
type Call struct {
	Method string
	// Arg is, for a write, the argument that carries the new value; for
	// an Add, the argument without which the call cannot be made.
	Arg string
	// Command names the USP command that makes an Add call where the
	// agent cannot add instances of a ubus-backed object (bbfdm).
	Command string
	// Fixed are arguments passed as they are.
	Fixed map[string]string
}

// Param is one leaf parameter.
type Param struct {
	Name  string
	Type  string // string, boolean, unsignedInt, unsignedLong, dateTime
	Write bool
	Enum  []string
	UCI   *UCI
	Ubus  *Ubus
	// Set, under a ubus-backed object, is the method a write calls with
	// the instance's key (Object.Key as "id") and Set.Arg = the value.
	Set *Call
	// AddArg, under an object with Add, is the argument of the Add call
	// this parameter supplies: the instance exists in the daemon only
	// once the Add call has been made with every such value known.
	AddArg string
	// Hidden parameters read as "" (TR-106 for values not given back,
	// like the DPP URI, which the daemon keeps only as a hash).
	Hidden bool
	// Count names the multi-instance object this NumberOfEntries
	// parameter counts ("Segment.{i}.").
	Count string
}

// Object is one object of the subtree; Path is relative to the root
// ("" for the root, "Segment.{i}.").
type Object struct {
	Path string
	// Instances, for a multi-instance object: UCI section type or ubus
	// array (method and key).
	UCIType string
	Ubus    *Ubus
	// Key is the element field naming a ubus-backed instance ("id").
	Key string
	// Access allows an ACS to add and delete instances: UCI sections, or
	// the Add and Delete calls (Delete gets the instance's key as "id").
	Access bool
	Add    *Call
	Delete *Call
	Params []Param
}

// Model is the one description of the data model.
func Model() []Object {
	u := func(sec, opt string) *UCI { return &UCI{Section: sec, Option: opt} }
	st := func(key string) *Ubus { return &Ubus{Method: "status", Key: key} }
	el := func(key string) *Ubus { return &Ubus{Key: key} }
	return []Object{
		{Path: "", Params: []Param{
			{Name: "Enable", Type: "boolean", Write: true, UCI: u("main", "enabled")},
			{Name: "Version", Type: "string", Ubus: st("version")},
			{Name: "Ready", Type: "boolean", Ubus: st("ready")},
			{Name: "ConfigRejected", Type: "string", Ubus: st("config.rejected")},
			{Name: "ConfigRejectedAt", Type: "dateTime", Ubus: st("config.rejected_at")},
			{Name: "ConfigLoadedAt", Type: "dateTime", Ubus: st("config.loaded_at")},
			{Name: "RadioNumberOfEntries", Type: "unsignedInt", Count: "Radio.{i}."},
			{Name: "SegmentNumberOfEntries", Type: "unsignedInt", Count: "Segment.{i}."},
			{Name: "ControllerNumberOfEntries", Type: "unsignedInt", Count: "Controller.{i}."},
			{Name: "DeviceNumberOfEntries", Type: "unsignedInt", Count: "Device.{i}."},
			{Name: "PreAuthorizedNumberOfEntries", Type: "unsignedInt", Count: "PreAuthorized.{i}."},
		}},
		{Path: "Onboarding.", Params: []Param{
			{Name: "DefaultSegment", Type: "string", Write: true, UCI: u("onboarding", "default_segment")},
			{Name: "AKM", Type: "string", Write: true, Enum: []string{"psk", "sae", "psk-sae"}, UCI: u("onboarding", "akm")},
			{Name: "Timeout", Type: "unsignedInt", Write: true, UCI: u("onboarding", "timeout")},
			{Name: "PKEXAttempts", Type: "unsignedInt", Write: true, UCI: u("onboarding", "pkex_attempts")},
			{Name: "PKEXWindow", Type: "unsignedInt", Write: true, UCI: u("onboarding", "pkex_window")},
			{Name: "LegacyPassphrase", Type: "boolean", Write: true, UCI: u("onboarding", "legacy_passphrase")},
		}},
		{Path: "Stats.", Params: []Param{
			{Name: "DevicesOnboarded", Type: "unsignedInt", Ubus: st("counters.onboarded")},
			{Name: "DevicesConnected", Type: "unsignedInt", Ubus: st("counters.connected")},
			{Name: "DevicesQuarantined", Type: "unsignedInt", Ubus: st("counters.quarantined")},
			{Name: "OnboardingFailures", Type: "unsignedInt", Ubus: st("counters.onboarding_failures")},
			{Name: "MUDViolations", Type: "unsignedInt", Ubus: st("counters.mud_violations")},
			{Name: "DevicesNeedingReonboarding", Type: "unsignedInt", Ubus: st("counters.needs_reonboarding")},
			// Changes with every security event: an ACS sets active
			// notification on it to hear of them.
			{Name: "SecurityEvents", Type: "unsignedInt", Ubus: st("counters.security_events")},
			{Name: "UnknownDevices", Type: "unsignedInt", Ubus: st("counters.unknown_devices")},
		}},
		{Path: "Radio.{i}.", Ubus: &Ubus{Method: "status", Key: "radios"}, Params: []Param{
			{Name: "Interface", Type: "string", Ubus: el("ifname")},
			{Name: "SSID", Type: "string", Ubus: el("ssid")},
			{Name: "DPPSupported", Type: "boolean", Ubus: el("dpp")},
			{Name: "DPPVersion", Type: "unsignedInt", Ubus: el("dpp_version")},
			{Name: "Problem", Type: "string", Ubus: el("problem")},
		}},
		{Path: "Segment.{i}.", UCIType: "segment", Access: true, Params: []Param{
			{Name: "Name", Type: "string", UCI: &UCI{Option: "@Name"}},
			{Name: "VLAN", Type: "unsignedInt", Write: true, UCI: &UCI{Option: "vlan"}},
			{Name: "Internet", Type: "boolean", Write: true, UCI: &UCI{Option: "internet"}},
			{Name: "Isolate", Type: "boolean", Write: true, UCI: &UCI{Option: "isolate"}},
			{Name: "Quarantine", Type: "boolean", Write: true, UCI: &UCI{Option: "quarantine"}},
			{Name: "Reach", Type: "string", Write: true, UCI: &UCI{Option: "reach", List: true}},
			{Name: "Interfaces", Type: "string", Write: true, UCI: &UCI{Option: "interface", List: true}},
			{Name: "Bridge", Type: "string", Write: true, UCI: &UCI{Option: "bridge"}},
			{Name: "Uplink", Type: "string", Write: true, UCI: &UCI{Option: "uplink"}},
			{Name: "Watch", Type: "string", Write: true, Enum: []string{"off", "notify", "quarantine"}, UCI: &UCI{Option: "watch"}},
			{Name: "Lifetime", Type: "unsignedInt", Write: true, UCI: &UCI{Option: "lifetime"}},
		}},
		// What MUD "controller" and "my-controller" rules reach.
		{Path: "Controller.{i}.", UCIType: "controller", Access: true, Params: []Param{
			{Name: "Name", Type: "string", UCI: &UCI{Option: "@Name"}},
			{Name: "Addresses", Type: "string", Write: true, UCI: &UCI{Option: "address", List: true}},
			{Name: "Classes", Type: "string", Write: true, UCI: &UCI{Option: "class", List: true}},
			{Name: "MUDURLs", Type: "string", Write: true, UCI: &UCI{Option: "mud_url", List: true}},
		}},
		{Path: "Device.{i}.", Ubus: &Ubus{Method: "devices", Key: "devices"}, Key: "id", Params: []Param{
			{Name: "ID", Type: "string", Ubus: el("id")},
			{Name: "Name", Type: "string", Ubus: el("name")},
			{Name: "State", Type: "string", Ubus: el("state")},
			{Name: "Connected", Type: "boolean", Ubus: el("connected")},
			{Name: "LastSeen", Type: "dateTime", Ubus: el("last_seen")},
			{Name: "Segment", Type: "string", Write: true, Ubus: el("segment"), Set: &Call{Method: "move", Arg: "segment"}},
			// A write of false releases the device (the rpcd plugin's
			// quarantine method calls release for quarantined=0).
			{Name: "Quarantined", Type: "boolean", Write: true, Ubus: el("quarantined"), Set: &Call{Method: "quarantine", Arg: "quarantined"}},
			{Name: "MUDURL", Type: "string", Ubus: el("mud.url")},
			{Name: "MUDStatus", Type: "string", Ubus: el("mud.status")},
			// What the firewall holds for the device and judged since it
			// was put in; empty while the firewall does not know it.
			{Name: "FirewallConfined", Type: "boolean", Ubus: el("firewall.confined")},
			{Name: "AcceptedPackets", Type: "unsignedLong", Ubus: el("firewall.accepted_packets")},
			{Name: "AcceptedBytes", Type: "unsignedLong", Ubus: el("firewall.accepted_bytes")},
			{Name: "DroppedPackets", Type: "unsignedLong", Ubus: el("firewall.dropped_packets")},
			{Name: "DroppedBytes", Type: "unsignedLong", Ubus: el("firewall.dropped_bytes")},
		}},
		{Path: "PreAuthorized.{i}.", Ubus: &Ubus{Method: "preauth_list", Key: "entries"}, Key: "id", Access: true,
			Add: &Call{Method: "preauth_add", Arg: "uri", Command: "PreAuthorize", Fixed: map[string]string{"added_by": "acs"}}, Delete: &Call{Method: "preauth_remove"}, Params: []Param{
				{Name: "ID", Type: "string", Ubus: el("id")},
				{Name: "URI", Type: "string", Write: true, Hidden: true, AddArg: "uri"},
				{Name: "URIHash", Type: "string", Ubus: el("uri_hash")},
				{Name: "Segment", Type: "string", Write: true, Ubus: el("segment"), AddArg: "segment"},
				{Name: "Name", Type: "string", Write: true, Ubus: el("name"), AddArg: "name"},
				{Name: "AddedBy", Type: "string", Ubus: el("added_by")},
				{Name: "AddedAt", Type: "dateTime", Ubus: el("added_at")},
			}},
		{Path: "Firewall.", Params: []Param{
			{Name: "Enable", Type: "boolean", Write: true, UCI: u("main", "firewall")},
			{Name: "DHCPLeases", Type: "string", Write: true, UCI: u("main", "dhcp_leases")},
		}},
		{Path: "MUD.", Params: []Param{
			{Name: "Enable", Type: "boolean", Write: true, UCI: u("mud", "enabled")},
			{Name: "SignaturePolicy", Type: "string", Write: true, Enum: []string{"require", "approve", "allow"}, UCI: u("mud", "signature_policy")},
			{Name: "TrustAnchors", Type: "string", Write: true, UCI: &UCI{Section: "mud", Option: "trust_anchor", List: true}},
			{Name: "MaxSize", Type: "unsignedInt", Write: true, UCI: u("mud", "max_size")},
			{Name: "FetchTimeout", Type: "unsignedInt", Write: true, UCI: u("mud", "fetch_timeout")},
		}},
		{Path: "BRSKI.", Params: []Param{
			{Name: "Enable", Type: "boolean", Write: true, UCI: u("brski", "enabled")},
			{Name: "RegistrarHost", Type: "string", Write: true, UCI: u("brski", "registrar_host")},
			{Name: "RegistrarPort", Type: "unsignedInt", Write: true, UCI: u("brski", "registrar_port")},
			{Name: "Port", Type: "unsignedInt", Write: true, UCI: u("brski", "port")},
		}},
	}
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

// vendorRE follows TR-106: an OUI as six upper-case hex digits, or an
// upper-case domain name with '.' written as '-' or '_'.
var vendorRE = regexp.MustCompile(`^([0-9A-F]{6}|[A-Z0-9][A-Z0-9_-]*[A-Z0-9])$`)

// Root returns the subtree's root path for vendor.
func Root(vendor string) (string, error) {
	if !vendorRE.MatchString(vendor) {
		return "", fmt.Errorf("vendor %q: want an OUI (six upper-case hex digits) or an upper-case domain like EXAMPLE-COM (TR-106)", vendor)
	}
	return "Device.X_" + vendor + "_TrustJoin.", nil
}

var protocols = []string{"cwmp", "usp"}

// dmVersion is the TR-181 version the subtree is written against; bbfdm's
// plugin validator wants one on every object, parameter and command.
const dmVersion = "2.14"

// BBFDM generates the bbfdm JSON plugin for vendor.
//
// bbfdm's JSON plugin engine adds and deletes instances only of UCI-backed
// objects (libbbfdm-api plugin/json_plugin.c: add_obj, delete_obj), and
// knows an instance of a ubus-backed one only by its position ("{i}").
// So a write under Device.{i}. passes "instance" (the rpcd plugin resolves
// it to the id), and PreAuthorized.{i}. is read-only here but gets USP
// commands, PreAuthorize() and PreAuthorized.{i}.Remove(), making the same
// ubus calls. The easycwmp script has no such limits.
func BBFDM(vendor string) ([]byte, error) {
	root, err := Root(vendor)
	if err != nil {
		return nil, err
	}
	ubusMap := func(method, key string, args map[string]any) map[string]any {
		m := map[string]any{"object": "trustjoin", "method": method, "args": args}
		if key != "" {
			m["key"] = key
		}
		return map[string]any{"type": "ubus", "ubus": m}
	}
	// Objects nest in their parents under their full paths, as bbfdm's
	// own plugins have them; Model lists parents first.
	var top map[string]any
	nodes := map[string]map[string]any{}
	for _, o := range Model() {
		array := strings.HasSuffix(o.Path, "{i}.")
		node := map[string]any{"type": "object", "version": dmVersion, "protocols": protocols, "access": o.Access && o.UCIType != "", "array": array}
		switch {
		case o.UCIType != "":
			node["mapping"] = []any{map[string]any{"type": "uci", "uci": map[string]any{
				"file": "trustjoin", "section": map[string]any{"type": o.UCIType}, "dmmapfile": "dmmap_trustjoin"}}}
		case o.Ubus != nil:
			node["mapping"] = []any{ubusMap(o.Ubus.Method, o.Ubus.Key, map[string]any{})}
		}
		for _, p := range o.Params {
			if p.Ubus == nil && p.UCI == nil && p.Count == "" {
				continue // written only through Add: see PreAuthorize()
			}
			leaf := map[string]any{"type": p.Type, "version": dmVersion, "read": true, "write": p.Write && (p.UCI != nil || p.Set != nil), "protocols": protocols}
			if len(p.Enum) > 0 {
				leaf["enumerations"] = p.Enum
			}
			if p.UCI != nil && p.UCI.List {
				leaf["list"] = map[string]any{"datatype": "string"}
			}
			m := leafMapping(o, p)
			if p.Set != nil {
				leaf["mapping"] = []any{
					map[string]any{"rpc": "get", "data": m["data"], "type": m["type"], "key": m["key"]},
					mergeRPC("set", ubusMap(p.Set.Method, "", map[string]any{"instance": "{i}", p.Set.Arg: "@Value"})),
				}
			} else {
				leaf["mapping"] = []any{m}
			}
			node[p.Name] = leaf
		}
		if o.Delete != nil {
			node["Remove()"] = map[string]any{"type": "command", "version": dmVersion, "async": false, "protocols": []string{"usp"},
				"mapping": []any{ubusMap(o.Delete.Method, "", map[string]any{"instance": "{i}"})}}
		}
		nodes[o.Path] = node
		if o.Path == "" {
			top = node
		} else {
			nodes[parentPath(o.Path)][root+o.Path] = node
		}
		if o.Add != nil {
			parent := nodes[parentPath(o.Path)]
			in, args := map[string]any{}, map[string]any{}
			for k, v := range o.Add.Fixed {
				args[k] = v
			}
			for _, p := range o.Params {
				if p.AddArg != "" {
					in[p.Name] = map[string]any{"type": p.Type, "version": dmVersion, "read": true, "write": true, "protocols": []string{"usp"}}
					args[p.AddArg] = "@Input." + p.Name
				}
			}
			parent[o.Add.Command+"()"] = map[string]any{
				"type": "command", "version": dmVersion, "async": false, "protocols": []string{"usp"}, "input": in,
				"mapping": []any{ubusMap(o.Add.Method, "", args)}}
		}
	}
	// json_plugin_version first: bbfdm reads the file's keys in order and
	// applies the version to the objects after it (json-c keeps the order,
	// Go's encoding of a map would sort it last).
	key, _ := json.Marshal(root)
	body, err := json.MarshalIndent(top, "\t", "\t")
	if err != nil {
		return nil, err
	}
	return []byte("{\n\t\"json_plugin_version\": 2,\n\t" + string(key) + ": " + string(body) + "\n}"), nil
}

func mergeRPC(rpc string, m map[string]any) map[string]any {
	m["rpc"] = rpc
	return m
}

// parentPath is the object holding path: "" for "PreAuthorized.{i}.".
func parentPath(path string) string {
	p := strings.TrimSuffix(strings.TrimSuffix(path, "{i}."), ".")
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i+1]
	}
	return ""
}

func leafMapping(o Object, p Param) map[string]any {
	switch {
	case p.Count != "":
		t, _ := Find(p.Count)
		if t.UCIType != "" {
			return map[string]any{"type": "uci", "uci": map[string]any{
				"file": "trustjoin", "section": map[string]any{"type": t.UCIType}, "option": map[string]any{"name": "@Count"}}}
		}
		return map[string]any{"type": "ubus", "ubus": map[string]any{"object": "trustjoin", "method": t.Ubus.Method, "args": map[string]any{}, "key": t.Ubus.Key + ".@Count"}}
	case p.UCI != nil && p.UCI.Section == "":
		return map[string]any{"data": "@Parent", "type": "uci_sec", "key": p.UCI.Option}
	case p.UCI != nil:
		kind := "option"
		if p.UCI.List {
			kind = "list"
		}
		return map[string]any{"type": "uci", "uci": map[string]any{
			"file": "trustjoin", "section": map[string]any{"name": p.UCI.Section}, kind: map[string]any{"name": p.UCI.Option}}}
	case o.Ubus != nil:
		return map[string]any{"data": "@Parent", "type": "json", "key": p.Ubus.Key}
	}
	return map[string]any{"type": "ubus", "ubus": map[string]any{"object": "trustjoin", "method": p.Ubus.Method, "args": map[string]any{}, "key": p.Ubus.Key}}
}
