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
	Option  string
	List    bool
}

// Ubus maps a parameter to a field of a trustjoin ubus method's reply.
type Ubus struct {
	Method string
	// Key is a path into the reply ("counters.connected"); under a
	// multi-instance object, into the instance's element.
	Key string
}

// Param is one leaf parameter.
type Param struct {
	Name  string
	Type  string // string, boolean, unsignedInt
	Write bool
	Enum  []string
	UCI   *UCI
	Ubus  *Ubus
}

// Object is one object of the subtree; Path is relative to the root
// ("" for the root, "Segment.{i}.").
type Object struct {
	Path string
	// Instances, for a multi-instance object: UCI section type or ubus
	// array (method and key).
	UCIType string
	Ubus    *Ubus
	// Access allows an ACS to add and delete instances.
	Access bool
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
		}},
		{Path: "Onboarding.", Params: []Param{
			{Name: "DefaultSegment", Type: "string", Write: true, UCI: u("onboarding", "default_segment")},
			{Name: "AKM", Type: "string", Write: true, Enum: []string{"psk", "sae", "psk-sae"}, UCI: u("onboarding", "akm")},
			{Name: "Timeout", Type: "unsignedInt", Write: true, UCI: u("onboarding", "timeout")},
			{Name: "LegacyPassphrase", Type: "boolean", Write: true, UCI: u("onboarding", "legacy_passphrase")},
		}},
		{Path: "Stats.", Params: []Param{
			{Name: "DevicesOnboarded", Type: "unsignedInt", Ubus: st("counters.onboarded")},
			{Name: "DevicesConnected", Type: "unsignedInt", Ubus: st("counters.connected")},
			{Name: "DevicesQuarantined", Type: "unsignedInt", Ubus: st("counters.quarantined")},
			{Name: "OnboardingFailures", Type: "unsignedInt", Ubus: st("counters.onboarding_failures")},
			{Name: "MUDViolations", Type: "unsignedInt", Ubus: st("counters.mud_violations")},
		}},
		{Path: "Radio.{i}.", Ubus: &Ubus{Method: "status", Key: "radios"}, Params: []Param{
			{Name: "Interface", Type: "string", Ubus: el("ifname")},
			{Name: "SSID", Type: "string", Ubus: el("ssid")},
			{Name: "DPPSupported", Type: "boolean", Ubus: el("dpp")},
			{Name: "Problem", Type: "string", Ubus: el("problem")},
		}},
		{Path: "Segment.{i}.", UCIType: "segment", Access: true, Params: []Param{
			{Name: "VLAN", Type: "unsignedInt", Write: true, UCI: &UCI{Option: "vlan"}},
			{Name: "Internet", Type: "boolean", Write: true, UCI: &UCI{Option: "internet"}},
			{Name: "Isolate", Type: "boolean", Write: true, UCI: &UCI{Option: "isolate"}},
			{Name: "Quarantine", Type: "boolean", Write: true, UCI: &UCI{Option: "quarantine"}},
			{Name: "Reach", Type: "string", Write: true, UCI: &UCI{Option: "reach", List: true}},
		}},
		{Path: "Device.{i}.", Ubus: &Ubus{Method: "devices", Key: "devices"}, Params: []Param{
			{Name: "ID", Type: "string", Ubus: el("id")},
			{Name: "Name", Type: "string", Ubus: el("name")},
			{Name: "State", Type: "string", Ubus: el("state")},
			{Name: "Segment", Type: "string", Ubus: el("segment")},
			{Name: "Quarantined", Type: "boolean", Ubus: el("quarantined")},
			{Name: "MUDURL", Type: "string", Ubus: el("mud.url")},
		}},
		{Path: "MUD.", Params: []Param{
			{Name: "Enable", Type: "boolean", Write: true, UCI: u("mud", "enabled")},
			{Name: "SignaturePolicy", Type: "string", Write: true, Enum: []string{"require", "approve", "allow"}, UCI: u("mud", "signature_policy")},
			{Name: "TrustAnchors", Type: "string", Write: true, UCI: &UCI{Section: "mud", Option: "trust_anchor", List: true}},
		}},
		{Path: "BRSKI.", Params: []Param{
			{Name: "Enable", Type: "boolean", Write: true, UCI: u("brski", "enabled")},
			{Name: "RegistrarHost", Type: "string", Write: true, UCI: u("brski", "registrar_host")},
			{Name: "RegistrarPort", Type: "unsignedInt", Write: true, UCI: u("brski", "registrar_port")},
		}},
	}
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

// BBFDM generates the bbfdm JSON plugin for vendor.
func BBFDM(vendor string) ([]byte, error) {
	root, err := Root(vendor)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"json_plugin_version": 2}
	for _, o := range Model() {
		node := map[string]any{"type": "object", "protocols": protocols, "access": o.Access, "array": strings.HasSuffix(o.Path, "{i}.")}
		switch {
		case o.UCIType != "":
			node["mapping"] = []any{map[string]any{"type": "uci", "uci": map[string]any{
				"file": "trustjoin", "section": map[string]any{"type": o.UCIType}, "dmmapfile": "dmmap_trustjoin"}}}
		case o.Ubus != nil:
			node["mapping"] = []any{map[string]any{"type": "ubus", "ubus": map[string]any{
				"object": "trustjoin", "method": o.Ubus.Method, "args": map[string]any{}, "key": o.Ubus.Key}}}
		}
		for _, p := range o.Params {
			leaf := map[string]any{"type": p.Type, "read": true, "write": p.Write, "protocols": protocols}
			if len(p.Enum) > 0 {
				leaf["enumerations"] = p.Enum
			}
			if p.UCI != nil && p.UCI.List {
				leaf["list"] = map[string]any{"datatype": "string"}
			}
			leaf["mapping"] = []any{leafMapping(o, p)}
			node[p.Name] = leaf
		}
		out[root+o.Path] = node
	}
	return json.MarshalIndent(out, "", "\t")
}

func leafMapping(o Object, p Param) map[string]any {
	switch {
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
