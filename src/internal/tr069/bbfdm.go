package tr069

import (
	"encoding/json"
	"strings"
)

var protocols = []string{"cwmp", "usp"}

// dmVersion is the TR-181 version the subtree is written against; bbfdm's
// plugin validator wants one on every object and parameter.
const dmVersion = "2.14"

// BBFDM generates the bbfdm JSON plugin (json_plugin_version 2) for
// vendor.
//
// What bbfdm's JSON engine (libbbfdm-api plugin/json_plugin.c) does and
// does not do shapes the plugin: it adds and deletes instances only of
// UCI-backed objects (hence UCI-backed PreAuthorized), keeps their
// instance numbers and Aliases in its dmmap, and passes every ubus
// argument through a 256-byte buffer (hence URIs through UCI). It numbers
// the instances of a ubus-backed object by position and can pass only
// that number to a call, so a write under Device.{i}. passes "instance"
// (the rpcd plugin resolves it against the same list). It reports a
// failed set call as fault 9007, but ignores the status of a command's
// call: the plugin has no commands, as a refused one would read as done.
func BBFDM(vendor string) ([]byte, error) {
	root, err := root(vendor)
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
		node := map[string]any{"type": "object", "version": dmVersion, "protocols": protocols, "access": o.Access, "array": array}
		if len(o.UniqueKeys) > 0 {
			node["uniqueKeys"] = o.UniqueKeys
		}
		switch {
		case o.UCIType != "":
			node["mapping"] = []any{map[string]any{"type": "uci", "uci": map[string]any{
				"file": "trustjoin", "section": map[string]any{"type": o.UCIType}, "dmmapfile": "dmmap_trustjoin"}}}
		case o.Ubus != nil:
			node["mapping"] = []any{ubusMap(o.Ubus.Method, o.Ubus.Key, map[string]any{})}
		}
		for _, p := range o.Params {
			leaf := map[string]any{"type": p.Type, "version": dmVersion, "read": true, "write": p.Write, "protocols": protocols}
			for k, v := range constraints(p) {
				leaf[k] = v
			}
			if p.Default != "" {
				leaf["default"] = p.Default
			}
			m := leafMapping(o, p)
			switch {
			case p.Set != nil:
				leaf["mapping"] = []any{
					mergeRPC("get", m),
					mergeRPC("set", ubusMap(p.Set.Method, "", map[string]any{"instance": "{i}", p.Set.Arg: "@Value"})),
				}
			case p.Hidden:
				// Read as nothing (a mapping without a type), written
				// through the mapping.
				leaf["mapping"] = []any{map[string]any{"rpc": "get"}, mergeRPC("set", m)}
			default:
				leaf["mapping"] = []any{m}
			}
			node[p.Name] = leaf
		}
		nodes[o.Path] = node
		if o.Path == "" {
			top = node
		} else {
			nodes[parentPath(o.Path)][root+o.Path] = node
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

// constraints are p's value checks in bbfdm's terms (dm_validate_value):
// enumerations, a range (of values for numbers, of lengths for strings),
// patterns; for a list, the same per element under "list".
func constraints(p Param) map[string]any {
	c := map[string]any{}
	if len(p.Enum) > 0 {
		c["enumerations"] = p.Enum
	}
	switch {
	case p.Range != nil && p.Never:
		// bbfdm takes a value that is within a range with both ends,
		// else goes on to the next; a range with one end it checks and
		// stops. So {max 0} last lets 0 through besides the range, and
		// nothing else. ({min 0, max 0} would not: bbfdm reads equal ends
		// as a length.)
		c["range"] = []any{map[string]any{"min": p.Range.Min, "max": p.Range.Max}, map[string]any{"max": 0}}
	case p.Range != nil:
		c["range"] = []any{map[string]any{"min": p.Range.Min, "max": p.Range.Max}}
	case p.MaxLen > 0:
		c["range"] = []any{map[string]any{"max": p.MaxLen}}
	}
	if p.Pattern != "" {
		c["pattern"] = []string{p.Pattern}
	}
	if !p.List() {
		return c
	}
	list := map[string]any{"datatype": "string"}
	for k, v := range c {
		list[k] = v
	}
	return map[string]any{"list": list}
}

func mergeRPC(rpc string, m map[string]any) map[string]any {
	out := map[string]any{"rpc": rpc}
	for k, v := range m {
		out[k] = v
	}
	return out
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
	case p.Alias:
		// bbfdm keeps Aliases in its dmmap ("cpe-<n>" until set).
		return map[string]any{"data": "@Parent", "type": "dmmap_sec", "key": "alias"}
	case p.UCI != nil && p.UCI.Section == "" && p.UCI.List:
		return map[string]any{"data": "@Parent", "type": "uci_sec", "list": p.UCI.Option}
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
	case p.Ubus.Arg != "":
		if t, _ := Table(o.Path); t.Ubus != nil {
			// A call about the instance of a ubus-backed table, which
			// bbfdm names by its number only.
			return map[string]any{"type": "ubus", "ubus": map[string]any{"object": "trustjoin", "method": p.Ubus.Method,
				"args": map[string]any{"instance": "{i}"}, "key": p.Ubus.Key}}
		}
		// A call about the instance's own section (@Name).
		return map[string]any{"type": "ubus", "ubus": map[string]any{"object": "trustjoin", "method": p.Ubus.Method,
			"args": map[string]any{p.Ubus.Arg: "@Name"}, "key": p.Ubus.Key}}
	}
	return map[string]any{"type": "ubus", "ubus": map[string]any{"object": "trustjoin", "method": p.Ubus.Method, "args": map[string]any{}, "key": p.Ubus.Key}}
}
