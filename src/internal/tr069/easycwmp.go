package tr069

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// EasyCWMP generates the function script easycwmp sources from
// /usr/share/easycwmp/functions/ (its TR-181 variant, whose framework
// provides common_execute_method_obj/_param, $UCI_GET and friends, jshn and
// the E_* fault codes). Settings go through uci, like the bbfdm plugin's
// mappings; status, devices and pre-authorised devices through
// `ubus call trustjoin`. Instances of ubus-backed tables are read by
// position and written by id; an AddObject on PreAuthorized makes a
// pending instance whose URI, Segment and Name are collected in
// /var/run/trustjoin/cwmp-preauth/ and sent to preauth_add once the URI is
// known (again on each later write: the same URI replaces the entry).
func EasyCWMP(vendor string) ([]byte, error) {
	root, err := Root(vendor)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("#!/bin/sh\n# %s for easycwmp (TR-181 functions).\n", root)
	w("# Generated from trustjoin's data model (src/internal/tr069): do not edit.\n\n")
	w("TJ_ROOT=%q\n", root)
	w("prefix_list=\"$prefix_list $TJ_ROOT\"\n")
	w("entry_execute_method_list=\"$entry_execute_method_list entry_execute_method_trustjoin\"\n")
	b.WriteString(easycwmpHelpers)

	var tables []Object
	w("\nentry_execute_method_trustjoin() {\n\tcase \"$1\" in \"\"|\"Device.\"|\"$TJ_ROOT\"*)\n")
	for _, o := range Model() {
		if strings.HasSuffix(o.Path, "{i}.") {
			tables = append(tables, o)
			tbl := strings.TrimSuffix(o.Path, "{i}.")
			access, add := "0", `""`
			switch {
			case o.UCIType != "" && o.Access:
				access, add = "1", fmt.Sprintf(`"tj_uci_add %s"`, o.UCIType)
			case o.Add != nil:
				access, add = "1", fmt.Sprintf(`"tj_pending_add %s %s"`, o.Ubus.Method, o.Ubus.Key)
			}
			w("\t\tcommon_execute_method_obj \"${TJ_ROOT}%s\" %q %s \"\" \"tj_browse_%s $1\"\n", tbl, access, add, ident(o))
			continue
		}
		w("\t\tcommon_execute_method_obj \"${TJ_ROOT}%s\" \"0\"\n", o.Path)
		for _, p := range o.Params {
			w("\t\t%s\n", easycwmpParam(o, p, "${TJ_ROOT}"+o.Path))
		}
	}
	w("\t\treturn 0\n\t\t;;\n\tesac\n\treturn $E_INVALID_PARAMETER_NAME\n}\n")

	for _, o := range tables {
		id := ident(o)
		tbl := strings.TrimSuffix(o.Path, "{i}.")
		// Browse: $1 the requested path; the entry gets it, the instance
		// number and the instance's key (section name or id).
		w("\ntj_browse_%s() {\n\tlocal j=0 k\n", id)
		switch {
		case o.UCIType != "":
			w("\tfor k in $(tj_sections %s); do\n", o.UCIType)
		case o.Key != "":
			w("\tfor k in $(tj_keys %s %s %s); do\n", o.Ubus.Method, o.Ubus.Key, o.Key)
		default:
			w("\tfor k in $(tj_indexes %s %s); do\n", o.Ubus.Method, o.Ubus.Key)
		}
		w("\t\tj=$((j + 1))\n\t\ttj_entry_%s \"$1\" \"$j\" \"$k\"\n\tdone\n", id)
		if o.Add != nil {
			w("\tj=$(tj_pending_instance) && tj_entry_%s \"$1\" \"$j\" \"\"\n", id)
		}
		w("}\n\ntj_entry_%s() {\n\tlocal p=\"${TJ_ROOT}%s$2.\" i=$(($2 - 1))\n", id, tbl)
		w("\tcase_param \"$1\" belongto \"$p\" || return $E_INVALID_PARAMETER_NAME\n")
		del := `""`
		switch {
		case o.UCIType != "" && o.Access:
			del = `"tj_uci_delete $3"`
		case o.Delete != nil:
			del = fmt.Sprintf(`"tj_delete %s $3"`, o.Delete.Method)
		}
		w("\tcommon_execute_method_obj \"$p\" %q \"\" %s\n", map[bool]string{true: "1", false: "0"}[o.Access], del)
		for _, p := range o.Params {
			w("\t%s\n", easycwmpParam(o, p, "${p}"))
		}
		w("}\n")
		if o.Add != nil {
			// Collect one value; make the call once its Arg is known.
			w("\n# tj_pending_set_%s INSTANCE ARG KIND VALUE\ntj_pending_set_%s() {\n", id, id)
			w("\t[ \"$(cat \"$TJ_PENDING/instance\" 2>/dev/null)\" = \"$1\" ] || return $E_NON_WRITABLE_PARAMETER\n")
			w("\ttj_check \"$3\" \"$4\" || return $E_INVALID_PARAMETER_VALUE\n")
			w("\tprintf '%%s' \"$4\" > \"$TJ_PENDING/$2\" || return $E_INTERNAL_ERROR\n")
			w("\t[ -s \"$TJ_PENDING/%s\" ] || return 0\n", o.Add.Arg)
			w("\ttj_ubus %s \"$(tj_args", o.Add.Method)
			for _, k := range slices.Sorted(maps.Keys(o.Add.Fixed)) {
				w(" %s %s", k, o.Add.Fixed[k])
			}
			for _, p := range o.Params {
				if p.AddArg != "" {
					w(" %s \"$(cat \"$TJ_PENDING/%s\" 2>/dev/null)\"", p.AddArg, p.AddArg)
				}
			}
			w(")\" >/dev/null || return $E_INVALID_PARAMETER_VALUE\n\t: > \"$TJ_PENDING/added\"\n}\n")
		}
	}
	return []byte(b.String()), nil
}

// ident is a shell-safe name for a table: "PreAuthorized.{i}." → preauthorized.
func ident(o Object) string {
	return strings.ToLower(strings.NewReplacer(".", "", "{i}", "").Replace(o.Path))
}

// easycwmpParam is the common_execute_method_param line for p; in a table
// entry, $3 is the instance's key and $i its 0-based position.
func easycwmpParam(o Object, p Param, prefix string) string {
	kind := p.Type
	if p.UCI != nil && p.UCI.List {
		kind = "list"
	}
	if len(p.Enum) > 0 {
		kind = "oneof:" + strings.Join(p.Enum, "/")
	}
	var get, set string
	switch {
	case p.Hidden:
		get = "tj_empty"
	case p.Count != "":
		t, _ := Find(p.Count)
		if t.UCIType != "" {
			get = "tj_count_sections " + t.UCIType
		} else {
			get = fmt.Sprintf("tj_count %s %s", t.Ubus.Method, t.Ubus.Key)
		}
	case p.UCI != nil && p.UCI.Option == "@Name":
		get = "tj_echo $3"
	case p.UCI != nil:
		sec := p.UCI.Section
		if sec == "" {
			sec = "$3"
		}
		get = fmt.Sprintf("tj_uci_get %s %s %s", sec, p.UCI.Option, kind)
		if p.Write {
			set = fmt.Sprintf("tj_uci_set %s %s %s", sec, p.UCI.Option, kind)
		}
	case o.Ubus != nil:
		get = fmt.Sprintf("tj_element %s %s $i %s", o.Ubus.Method, o.Ubus.Key, p.Ubus.Key)
	default:
		get = fmt.Sprintf("tj_get %s %s", p.Ubus.Method, p.Ubus.Key)
	}
	switch {
	case p.Set != nil:
		set = fmt.Sprintf("tj_set %s $3 %s", p.Set.Method, p.Set.Arg)
	case p.AddArg != "":
		set = fmt.Sprintf("tj_pending_set_%s $2 %s %s", ident(o), p.AddArg, kind)
	}
	perm := "0"
	if set != "" {
		perm = "1"
	}
	return fmt.Sprintf("common_execute_method_param \"%s%s\" %q \"%s\" \"%s\" \"xsd:%s\"", prefix, p.Name, perm, get, set, p.Type)
}

// easycwmpHelpers are the script's own functions. Set functions get the
// new value last; they return an E_* fault code on a bad value.
const easycwmpHelpers = `
TJ_PENDING=/var/run/trustjoin/cwmp-preauth

tj_echo() { echo "$1"; }
tj_empty() { echo ""; }

# tj_ubus METHOD [JSON]: one call of the trustjoin ubus object.
tj_ubus() {
	local args="${2-}"
	[ -n "$args" ] || args='{}'
	ubus call trustjoin "$1" "$args"
}

# tj_args KEY VALUE...: a JSON object of the non-empty string values.
tj_args() {
	json_init
	while [ $# -ge 2 ]; do
		[ -n "$2" ] && json_add_string "$1" "$2"
		shift 2
	done
	json_dump
}

tj_get() { tj_ubus "$1" | jsonfilter -q -e "@.$2"; }
tj_element() { tj_ubus "$1" | jsonfilter -q -e "@.$2[$3].$4"; }
tj_count() { tj_ubus "$1" | jsonfilter -q -e "@.$2[*]" | wc -l; }
tj_keys() { tj_ubus "$1" | jsonfilter -q -e "@.$2[*].$3"; }
tj_indexes() { seq 0 $(($(tj_count "$1" "$2") - 1)); }

# tj_set METHOD ID ARG VALUE: a write that is a call (move, quarantine).
tj_set() {
	tj_ubus "$1" "$(tj_args id "$2" "$3" "$4")" >/dev/null || return $E_INVALID_PARAMETER_VALUE
}

tj_delete() {
	tj_ubus "$1" "$(tj_args id "$2")" >/dev/null || return $E_INTERNAL_ERROR
}

tj_sections() { $UCI_SHOW trustjoin | sed -n "s/^trustjoin\.\([^.=]*\)=$1\$/\1/p"; }
tj_count_sections() { tj_sections "$1" | wc -l; }

# tj_check KIND VALUE: the value is one of KIND (boolean, unsignedInt,
# list, string, oneof:a/b/c).
tj_check() {
	case "$1" in
	boolean) case "$2" in 0|1|true|false) return 0 ;; esac; return 1 ;;
	unsignedInt) case "$2" in ''|*[!0-9]*) return 1 ;; esac; return 0 ;;
	oneof:*) case "/${1#oneof:}/" in */"$2"/*) [ -n "$2" ] && return 0 ;; esac; return 1 ;;
	esac
	return 0
}

tj_uci_get() {
	case "$3" in
	list) $UCI_GET "trustjoin.$1.$2" | sed 's/ /,/g' ;;
	*) $UCI_GET "trustjoin.$1.$2" ;;
	esac
}

tj_uci_set() {
	tj_check "$3" "$4" || return $E_INVALID_PARAMETER_VALUE
	case "$3" in
	boolean) common_set_bool "trustjoin.$1.$2" "$4" 1 0 ;;
	list) common_set_list "trustjoin.$1.$2" "$4" ;;
	*) $UCI_SET "trustjoin.$1.$2=$4" ;;
	esac
}

# tj_uci_add TYPE: a named section (trustjoin refuses anonymous ones), as
# bbfdm names them: TYPE_<instance>.
tj_uci_add() {
	local n=$(($(tj_count_sections "$1") + 1))
	while [ -n "$($UCI_GET "trustjoin.$1_$n")" ]; do n=$((n + 1)); done
	$UCI_SET "trustjoin.$1_$n=$1" >/dev/null
	tj_count_sections "$1"
}

tj_uci_delete() { $UCI_DELETE "trustjoin.$1"; }

# tj_pending_add METHOD KEY: a pending instance of a table whose
# instances the daemon makes in one call with all their values (AddObject
# comes before SetParameterValues).
tj_pending_add() {
	rm -rf "$TJ_PENDING"
	(umask 077 && mkdir -p "$TJ_PENDING") || return $E_INTERNAL_ERROR
	echo $(($(tj_count "$1" "$2") + 1)) > "$TJ_PENDING/instance"
	cat "$TJ_PENDING/instance"
}

tj_pending_instance() {
	[ -f "$TJ_PENDING/instance" ] && [ ! -f "$TJ_PENDING/added" ] && cat "$TJ_PENDING/instance"
}
`
