package tr069

import (
	"fmt"
	"strconv"
	"strings"
)

// EasyCWMP generates the function script easycwmp sources from
// /usr/share/easycwmp/functions/ (its TR-181 variant: easycwmp.sh provides
// common_execute_method_obj/_param, $UCI_GET and friends, jshn and the E_*
// fault codes). Settings and pre-authorised devices go through uci, like
// the bbfdm plugin's mappings; status and devices through `ubus call
// trustjoin`.
//
// Where easycwmp itself falls short, the script does the work:
//   - A write is checked when the ACS sends it, against the model's
//     constraints (fault 9007 before anything is applied), and staged with
//     its value hex-encoded: easycwmp stages `setcmd "value"` in a file it
//     later reads with `read` and runs with eval, which would expand $,
//     backquotes and backslashes in a value.
//   - Instance numbers and Aliases are kept in a map beside easycwmp's
//     state (TJ_MAP), so an instance keeps its number while it exists
//     (TR-069) whatever comes and goes before it, for UCI sections and
//     ubus elements alike.
//   - Adding or deleting an instance has trustjoin reload at the end of
//     the session; easycwmp only restarts what a SetParameterValues
//     changed (and, where /etc/config/ucitrack exists, only services
//     listed there: trustjoin's package adds itself).
//   - Every typed parameter reads as its default when unset, never "".
func EasyCWMP(vendor string) ([]byte, error) {
	root, err := root(vendor)
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
	// Objects inside a table (Device.{i}.Stats.) are its entries'.
	within := map[string][]Object{}
	for _, o := range Model() {
		if t, ok := Table(o.Path); ok && t.Path != o.Path {
			within[t.Path] = append(within[t.Path], o)
			continue
		}
		if strings.HasSuffix(o.Path, "{i}.") {
			tables = append(tables, o)
			tbl := strings.TrimSuffix(o.Path, "{i}.")
			access, add := "0", `""`
			if o.Access {
				access, add = "1", fmt.Sprintf(`"tj_uci_add %s %s"`, ident(o), o.UCIType)
			}
			w("\t\tcommon_execute_method_obj \"${TJ_ROOT}%s\" %q %s \"\" \"tj_browse_%s $1\"\n", tbl, access, add, ident(o))
			continue
		}
		w("\t\tcommon_execute_method_obj \"${TJ_ROOT}%s\" \"0\"\n", o.Path)
		for _, p := range o.Params {
			line, err := easycwmpParam(o, p, "${TJ_ROOT}"+o.Path)
			if err != nil {
				return nil, err
			}
			w("\t\t%s\n", line)
		}
	}
	w("\t\treturn 0\n\t\t;;\n\tesac\n\treturn $E_INVALID_PARAMETER_NAME\n}\n")

	for _, o := range tables {
		id := ident(o)
		tbl := strings.TrimSuffix(o.Path, "{i}.")
		// Browse: $1 the requested path; each entry gets it, the
		// instance number and the instance's key (section name or id).
		// The loop reads a here-document, not a pipe: easycwmp's
		// functions end the script with exit when a name matches, which
		// in a pipe would leave only its subshell.
		w("\ntj_browse_%s() {\n\tlocal n k\n\twhile read -r n k; do\n", id)
		w("\t\t[ -n \"$k\" ] && tj_entry_%s \"$1\" \"$n\" \"$k\"\n\tdone <<EOF\n", id)
		switch {
		case o.UCIType != "":
			w("$(tj_instances %s $(tj_sections %s))\nEOF\n}\n", id, o.UCIType)
		default:
			w("$(tj_instances %s $(tj_keys %s %s %s))\nEOF\n}\n", id, o.Ubus.Method, o.Ubus.Key, o.Key)
		}
		w("\ntj_entry_%s() {\n\tlocal p=\"${TJ_ROOT}%s$2.\"\n", id, tbl)
		w("\tcase_param \"$1\" belongto \"$p\" || return 0\n")
		del := `""`
		if o.Access {
			del = fmt.Sprintf(`"tj_uci_delete %s $3"`, id)
		}
		w("\tcommon_execute_method_obj \"$p\" %q \"\" %s\n", map[bool]string{true: "1", false: "0"}[o.Access], del)
		for _, p := range o.Params {
			line, err := easycwmpParam(o, p, "${p}")
			if err != nil {
				return nil, err
			}
			w("\t%s\n", line)
		}
		for _, sub := range within[o.Path] {
			rel := strings.TrimPrefix(sub.Path, o.Path)
			w("\tcommon_execute_method_obj \"${p}%s\" \"0\"\n", rel)
			for _, p := range sub.Params {
				line, err := easycwmpParam(sub, p, "${p}"+rel)
				if err != nil {
					return nil, err
				}
				w("\t%s\n", line)
			}
		}
		w("}\n")
	}
	return []byte(b.String()), nil
}

// ident is a shell-safe name for a table: "PreAuthorized.{i}." → preauthorized.
func ident(o Object) string {
	return strings.ToLower(strings.NewReplacer(".", "", "{i}", "").Replace(o.Path))
}

// easycwmpCheck is the shell command that checks a value written to p
// (the value is appended as its last argument).
func easycwmpCheck(p Param) (string, error) {
	if strings.Contains(p.Pattern, "'") {
		return "", fmt.Errorf("%s: a pattern with a single quote cannot be put in the script", p.Name)
	}
	switch {
	case p.Type == "boolean":
		return "tj_check_bool", nil
	case p.Type == "unsignedInt" && p.Range != nil && p.Never:
		return fmt.Sprintf("tj_check_uint_never %d %d", p.Range.Min, p.Range.Max), nil
	case p.Type == "unsignedInt" && p.Range != nil:
		return fmt.Sprintf("tj_check_uint %d %d", p.Range.Min, p.Range.Max), nil
	case p.Type == "unsignedInt":
		return "tj_check_uint 0 4294967295", nil
	case p.Type == "dateTime":
		return "tj_check_str 32 '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)?$'", nil
	case len(p.Enum) > 0:
		return "tj_check_enum " + strings.Join(p.Enum, " "), nil
	}
	kind := "tj_check_str"
	if p.List() {
		kind = "tj_check_list"
	}
	pattern := p.Pattern
	if pattern == "" {
		pattern = "^[^[:cntrl:]]*$"
	}
	maxLen := p.MaxLen
	if maxLen == 0 {
		maxLen = 256
	}
	return fmt.Sprintf("%s %d '%s'", kind, maxLen, pattern), nil
}

// easycwmpParam is the tj_param line for p; in a table entry, $2 is the
// instance number and $3 the instance's key.
func easycwmpParam(o Object, p Param, prefix string) (string, error) {
	// Get commands run word-split, unquoted: an empty default is none.
	def := p.Default
	if strings.ContainsAny(def, " '\"") {
		return "", fmt.Errorf("%s: default %q cannot be a word of a get command", p.Name, def)
	}
	kind := "str"
	switch {
	case p.List():
		kind = "list"
	case p.Type == "boolean":
		kind = "bool"
	}
	table := ident(o)
	var get, set string
	switch {
	case p.Hidden:
		get = "tj_echo"
		if p.Write {
			set = fmt.Sprintf("tj_uci_set $3 %s %s", p.UCI.Option, kind)
		}
	case p.Count != "":
		t, _ := Find(p.Count)
		if t.UCIType != "" {
			get = "tj_count_sections " + t.UCIType
		} else {
			get = fmt.Sprintf("tj_count %s %s", t.Ubus.Method, t.Ubus.Key)
		}
	case p.Alias:
		get = fmt.Sprintf("tj_alias_get %s $3", table)
		set = fmt.Sprintf("tj_alias_set %s $3", table)
	case p.UCI != nil && p.UCI.Option == "@Name":
		get = "tj_echo $3"
		if p.Write {
			set = fmt.Sprintf("tj_uci_rename %s $3", table)
		}
	case p.UCI != nil:
		sec := p.UCI.Section
		if sec == "" {
			sec = "$3"
		}
		get = fmt.Sprintf("tj_uci_get %s %s %s %s", sec, p.UCI.Option, kind, def)
		if p.Write {
			set = fmt.Sprintf("tj_uci_set %s %s %s", sec, p.UCI.Option, kind)
		}
	case p.Ubus.Arg != "":
		get = fmt.Sprintf("tj_get_about %s %s $3 %s %s", p.Ubus.Method, p.Ubus.Arg, p.Ubus.Key, def)
	case o.Ubus != nil:
		get = fmt.Sprintf("tj_element %s %s %s $3 %s %s", o.Ubus.Method, o.Ubus.Key, o.Key, p.Ubus.Key, def)
	default:
		get = fmt.Sprintf("tj_get %s %s %s", p.Ubus.Method, p.Ubus.Key, def)
	}
	if p.Set != nil {
		set = fmt.Sprintf("tj_set %s $3 %s", p.Set.Method, p.Set.Arg)
	}
	perm, check := "0", `""`
	if set != "" {
		perm = "1"
		c, err := easycwmpCheck(p)
		if err != nil {
			return "", err
		}
		check = strconv.Quote(c)
	}
	return fmt.Sprintf("tj_param \"%s%s\" %q \"%s\" \"%s\" \"xsd:%s\" %s", prefix, p.Name, perm, strings.TrimSpace(get), set, p.Type, check), nil
}

// easycwmpHelpers are the script's own functions. Setters get the new
// value hex-encoded, last; they return an E_* fault code on a bad value.
const easycwmpHelpers = `
# Instance numbers and Aliases: "TABLE KEY INSTANCE ALIAS" lines, and
# "TABLE - N" for the highest number a table has given out.
TJ_MAP=${TJ_MAP:-/etc/easycwmp/trustjoin.instances}
TJ_RUN=${TJ_RUN:-/tmp/.easycwmp_trustjoin}
# uci as easycwmp's $UCI_* run it; a function, so that a changed IFS
# does not split it differently.
tj_uci() { /sbin/uci -q ${UCI_CONFIG_DIR:+-c "$UCI_CONFIG_DIR"} "$@"; }

tj_echo() { echo "${1-}"; }

# tj_param PATH PERMISSION GET SET TYPE CHECK: common_execute_method_param,
# but a write to PATH is checked now and staged hex-encoded (see the Go
# generator's doc, src/internal/tr069/easycwmp.go).
tj_param() {
	if [ "$g_entry_method" = common_set_value_check ] && [ "$1" = "$g_entry_param" ]; then
		[ "$2" = 1 ] && [ -n "$4" ] || exit $E_NON_WRITABLE_PARAMETER
		eval "$6 \"\$g_entry_arg\"" || exit $E_INVALID_PARAMETER_VALUE
		# The first write of a SetParameterValues starts its renames afresh.
		[ -s "$set_command_tmp_file" ] || rm -f "$TJ_RUN/renamed"
		echo "$1<delim>$4 $(tj_hex "$g_entry_arg")<delim>$3" >> "$set_command_tmp_file"
		exit 0
	fi
	common_execute_method_param "$1" "$2" "$3" "$4" "$5"
}

tj_hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
tj_unhex() { printf "$(printf '%s' "${1-}" | sed 's/../\\x&/g')"; }

tj_has_newline() { [ "$(printf '%s' "$1" | wc -l)" != 0 ]; }

tj_check_bool() {
	case "$1" in 0|1|true|false|TRUE|FALSE|True|False) return 0 ;; esac
	return 1
}

tj_check_uint() {
	case "$3" in ''|*[!0-9]*) return 1 ;; esac
	[ ${#3} -le 10 ] && [ "$3" -ge "$1" ] && [ "$3" -le "$2" ]
}

# tj_check_uint_never MIN MAX VALUE: 0 (never), or within the range.
tj_check_uint_never() {
	[ "$3" = 0 ] || tj_check_uint "$@"
}

tj_check_enum() {
	local v
	eval "v=\${$#}"
	while [ $# -gt 1 ]; do
		[ "$1" = "$v" ] && return 0
		shift
	done
	return 1
}

# tj_check_str MAX PATTERN VALUE
tj_check_str() {
	tj_has_newline "$3" && return 1
	[ ${#3} -le "$1" ] || return 1
	printf '%s\n' "$3" | grep -Eq -- "$2"
}

# tj_check_list MAX PATTERN VALUE: each element of a comma-separated list.
tj_check_list() {
	local e IFS=,
	tj_has_newline "$3" && return 1
	for e in $3; do
		tj_check_str "$1" "$2" "$(echo "$e" | sed 's/^ *//; s/ *$//')" || return 1
	done
	return 0
}

# tj_ubus METHOD [JSON]: one call of the trustjoin ubus object. With -S
# its exit status is ubus's status (without, the client negates it when
# stderr is no terminal): 2 a refusal, others a failure.
tj_ubus() {
	local args="${2-}"
	[ -n "$args" ] || args='{}'
	ubus -S call trustjoin "$1" "$args"
}

# tj_fault STATUS: no fault for tj_ubus's exit status 0, else the fault.
tj_fault() {
	case "$1" in
	0) return 0 ;;
	2) return $E_INVALID_PARAMETER_VALUE ;;
	esac
	return $E_INTERNAL_ERROR
}

# tj_args KEY VALUE...: a JSON object of the string values.
tj_args() {
	json_init
	while [ $# -ge 2 ]; do
		json_add_string "$1" "$2"
		shift 2
	done
	json_dump
}

# tj_or DEFAULT: stdin, or DEFAULT when it is empty.
tj_or() {
	local v
	v=$(cat)
	[ -n "$v" ] || v=$1
	echo "$v"
}

# tj_query METHOD ARGS EXPR: what EXPR picks from the call's reply. The
# reply goes through a file: not every jsonfilter reads stdin.
tj_query() {
	local f rc
	mkdir -p "$TJ_RUN" && f=$(mktemp "$TJ_RUN/reply.XXXXXX") || return 1
	tj_ubus "$1" "$2" > "$f" && jsonfilter -q -i "$f" -e "$3"
	rc=$?
	rm -f "$f"
	return $rc
}

tj_get() { tj_query "$1" "" "@.$2" | tj_or "$3"; }
tj_get_about() { tj_query "$1" "$(tj_args "$2" "$3")" "@.$4" | tj_or "$5"; }
tj_element() { tj_query "$1" "" "@.$2[@.$3='$4'].$5" | tj_or "$6"; }
tj_count() { tj_query "$1" "" "@.$2[*]" | wc -l; }
tj_keys() { tj_query "$1" "" "@.$2[*].$3"; }

# tj_set METHOD ID ARG HEX: a write that is a call (move, quarantine).
tj_set() {
	tj_ubus "$1" "$(tj_args id "$2" "$3" "$(tj_unhex "${4-}")")" >/dev/null
	tj_fault $?
}

tj_sections() { tj_uci show trustjoin | sed -n "s/^trustjoin\.\([^.=]*\)=$1\$/\1/p"; }
tj_count_sections() { tj_sections "$1" | wc -l; }

# tj_sec NAME: the section's name now, after renames staged earlier in
# this SetParameterValues.
tj_sec() {
	local s="$1" old new
	[ -f "$TJ_RUN/renamed" ] || { echo "$s"; return; }
	while read -r old new; do
		[ "$old" = "$s" ] && s=$new
	done < "$TJ_RUN/renamed"
	echo "$s"
}

# tj_uci_get SECTION OPTION KIND DEFAULT
tj_uci_get() {
	local v
	v=$(tj_uci get "trustjoin.$1.$2") || { echo "$4"; return; }
	case "$3" in
	list) echo "$v" | sed 's/ /,/g' ;;
	*) echo "$v" ;;
	esac
}

# tj_uci_set SECTION OPTION KIND HEX
tj_uci_set() {
	local s v e IFS
	s=$(tj_sec "$1")
	v=$(tj_unhex "${4-}")
	case "$3" in
	bool)
		case "$v" in 1|[Tt][Rr][Uu][Ee]) v=1 ;; *) v=0 ;; esac
		tj_uci set "trustjoin.$s.$2=$v" || return $E_INTERNAL_ERROR
		;;
	list)
		tj_uci delete "trustjoin.$s.$2"
		IFS=,
		for e in $v; do
			e=$(echo "$e" | sed 's/^ *//; s/ *$//')
			[ -z "$e" ] || tj_uci add_list "trustjoin.$s.$2=$e" || return $E_INTERNAL_ERROR
		done
		;;
	*)
		# Empty deletes the option, as uci does.
		tj_uci set "trustjoin.$s.$2=$v" || return $E_INTERNAL_ERROR
		;;
	esac
	return 0
}

# tj_uci_add TABLE TYPE: a named section, TYPE_<instance> as bbfdm names
# them (trustjoin refuses anonymous ones), empty until its values are set
# (trustjoin skips empty sections); trustjoin reloads at the session's end.
tj_uci_add() {
	local n
	n=$(tj_map_next "$1") || return $E_INTERNAL_ERROR
	while [ -n "$(tj_uci get "trustjoin.$2_$n")" ]; do n=$((n + 1)); done
	tj_uci set "trustjoin.$2_$n=$2" || return $E_INTERNAL_ERROR
	tj_map_set "$1" "$2_$n" "$n"
	tj_reload_later
	echo "$n"
}

# tj_uci_delete TABLE SECTION REFPARAM
tj_uci_delete() {
	tj_uci delete "trustjoin.$2" || return $E_INTERNAL_ERROR
	tj_reload_later
	return 0
}

# tj_uci_rename TABLE SECTION HEX: a new name for a section; its instance
# number and Alias stay.
tj_uci_rename() {
	local s new
	s=$(tj_sec "$2")
	new=$(tj_unhex "${3-}")
	[ "$new" = "$s" ] && return 0
	[ -z "$(tj_uci get "trustjoin.$new")" ] || return $E_INVALID_PARAMETER_VALUE
	tj_uci rename "trustjoin.$s=$new" || return $E_INTERNAL_ERROR
	mkdir -p "$TJ_RUN" && echo "$s $new" >> "$TJ_RUN/renamed"
	tj_map_rekey "$1" "$s" "$new"
}

tj_reload_later() {
	common_execute_command_in_apply_service "/etc/init.d/trustjoin reload"
}

# tj_instances TABLE KEY...: "INSTANCE KEY" per key, by instance; keys new
# to the map get the next numbers, keys gone leave it.
tj_instances() {
	local t="$1"
	shift
	mkdir -p "${TJ_MAP%/*}" && touch "$TJ_MAP" || return
	awk -v t="$t" -v keys="$*" -v out="$TJ_MAP.tmp" '
	BEGIN { n = split(keys, k, " "); for (i = 1; i <= n; i++) want[k[i]] = 1 }
	$1 == t && $2 == "-" { if ($3 > hw) hw = $3; next }
	$1 == t { if ($3 > hw) hw = $3; if ($2 in want) { inst[$2] = $3; alias[$2] = $4 } else gone = 1; next }
	{ keep[++o] = $0 }
	END {
		for (i = 1; i <= n; i++) if (!(k[i] in inst)) { inst[k[i]] = ++hw; alias[k[i]] = "cpe-" hw; added = 1 }
		if (added || gone) {
			for (i = 1; i <= o; i++) print keep[i] > out
			print t " - " hw > out
			for (i = 1; i <= n; i++) print t " " k[i] " " inst[k[i]] " " alias[k[i]] > out
			close(out)
		}
		for (i = 1; i <= n; i++) print inst[k[i]] " " k[i]
	}' "$TJ_MAP" | sort -n
	[ -f "$TJ_MAP.tmp" ] && mv "$TJ_MAP.tmp" "$TJ_MAP"
	return 0
}

# tj_map_next TABLE: the number the next instance gets.
tj_map_next() {
	mkdir -p "${TJ_MAP%/*}" && touch "$TJ_MAP" || return 1
	awk -v t="$1" '$1 == t && $3 > hw { hw = $3 } END { print hw + 1 }' "$TJ_MAP"
}

# tj_map_edit AWK-PROGRAM VAR=VALUE...: rewrite the map through awk.
tj_map_edit() {
	local prog="$1"
	shift
	touch "$TJ_MAP" && awk "$@" "$prog" "$TJ_MAP" > "$TJ_MAP.tmp" && mv "$TJ_MAP.tmp" "$TJ_MAP"
}

# tj_map_set TABLE KEY INSTANCE
tj_map_set() {
	tj_map_edit '!($1 == t && ($2 == k || $2 == "-")) { print } END { print t " - " n; print t " " k " " n " cpe-" n }' -v t="$1" -v k="$2" -v n="$3"
}

tj_map_rekey() {
	tj_map_edit '{ if ($1 == t && $2 == k) $2 = nk; print }' -v t="$1" -v k="$2" -v nk="$3"
}

tj_alias_get() {
	awk -v t="$1" -v k="$(tj_sec "$2")" '$1 == t && $2 == k { print $4 }' "$TJ_MAP"
}

# tj_alias_set TABLE KEY HEX: an Alias unique in its table.
tj_alias_set() {
	local k a
	k=$(tj_sec "$2")
	a=$(tj_unhex "${3-}")
	[ -z "$(awk -v t="$1" -v k="$k" -v a="$a" '$1 == t && $2 != k && $4 == a' "$TJ_MAP")" ] || return $E_INVALID_PARAMETER_VALUE
	tj_map_edit '{ if ($1 == t && $2 == k) $4 = a; print }' -v t="$1" -v k="$k" -v a="$a"
}
`
