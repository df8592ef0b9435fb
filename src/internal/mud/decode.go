package mud

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds nesting: a MUD file is seven levels deep, and recursion
// over hostile input must not exhaust the stack.
const maxDepth = 64

type obj = map[string]any

// decodeStrict reads one JSON value into maps, slices, json.Number,
// strings, booleans and nil. Unlike encoding/json it refuses an object
// that gives one key twice: a file saying "drop" and then "accept" in one
// object has no single meaning, and picking one would be a guess.
func decodeStrict(b []byte) (any, error) {
	d := &strictDecoder{dec: json.NewDecoder(bytes.NewReader(b))}
	d.dec.UseNumber()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return nil, fail("", "trailing data after the JSON object")
	}
	return v, nil
}

type strictDecoder struct {
	dec  *json.Decoder
	path []string
}

func (d *strictDecoder) at() string { return strings.Join(d.path, "/") }

func (d *strictDecoder) syntax(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fail("", "not valid JSON: %v (at byte %d)", err, se.Offset)
	}
	if err == io.EOF {
		return fail("", "not valid JSON: unexpected end of the file")
	}
	return fail("", "not valid JSON: %v", err)
}

func (d *strictDecoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, fail(d.at(), "nested more than %d levels deep", maxDepth)
	}
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.syntax(err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch delim {
	case '{':
		o := obj{}
		for d.dec.More() {
			kt, err := d.dec.Token()
			if err != nil {
				return nil, d.syntax(err)
			}
			k, _ := kt.(string)
			if _, dup := o[k]; dup {
				return nil, fail(d.at(), "key %q is given twice in one object (JSON leaves the meaning open, so the file is refused)", k)
			}
			d.path = append(d.path, k)
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			d.path = d.path[:len(d.path)-1]
			o[k] = v
		}
		if _, err := d.dec.Token(); err != nil {
			return nil, d.syntax(err)
		}
		return o, nil
	case '[':
		var l []any
		for i := 0; d.dec.More(); i++ {
			last := len(d.path) - 1
			saved := ""
			if last >= 0 {
				saved = d.path[last]
				d.path[last] = saved + "[" + strconv.Itoa(i) + "]"
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if last >= 0 {
				d.path[last] = saved
			}
			l = append(l, v)
		}
		if _, err := d.dec.Token(); err != nil {
			return nil, d.syntax(err)
		}
		if l == nil {
			l = []any{}
		}
		return l, nil
	}
	return nil, fail(d.at(), "unexpected %v", delim)
}

// notJSON recognises what people give by mistake where a MUD file is
// expected, so they hear what it is rather than a JSON syntax error.
func notJSON(b []byte) error {
	t := bytes.TrimSpace(b)
	for _, pem := range []struct{ marker, what string }{
		{"-----BEGIN CERTIFICATE-----", "a certificate (PEM)"},
		{"-----BEGIN PKCS7-----", "a signature (PEM CMS)"},
		{"-----BEGIN CMS-----", "a signature (PEM CMS)"},
		{"-----BEGIN ", "PEM data"},
	} {
		if bytes.HasPrefix(t, []byte(pem.marker)) {
			return fail("", "this is %s, not a MUD file (a MUD file is JSON text)", pem.what)
		}
	}
	if len(b) >= 2 && b[0] == 0x30 && b[1] >= 0x80 && b[1] <= 0x84 {
		// A DER SEQUENCE with a long length: what .p7s and .der files are.
		if _, err := x509.ParseCertificate(b); err == nil {
			return fail("", "this is a certificate (DER), not a MUD file (a MUD file is JSON text)")
		}
		var ci struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
		}
		if _, err := asn1.Unmarshal(b, &ci); err == nil && ci.ContentType.Equal(oidSignedData) {
			return fail("", "this is a signature (DER CMS, like a .p7s file), not a MUD file: the MUD file is the JSON file it signs")
		}
		return fail("", "this is binary DER data, not a MUD file (a MUD file is JSON text)")
	}
	if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		return fail("", "this is binary data, not a MUD file (a MUD file is UTF-8 JSON text)")
	}
	return nil
}

// knownModules are the YANG modules whose nodes this parser reads. A node
// qualified with another module belongs to an extension.
var knownModules = map[string]bool{
	"ietf-mud": true, "ietf-access-control-list": true, "ietf-acldns": true,
	"ietf-packet-fields": true, "ietf-ethertypes": true,
}

// A node is one JSON object of the file, read by YANG node name. Files in
// the wild qualify names inconsistently ("protocol" and
// "ietf-access-control-list:protocol" mean the same leaf), so known
// modules' prefixes are dropped; a name given in two forms with different
// values is an error, never a choice made by map order.
type node struct {
	at     string
	fields map[string]field
	// ext lists members qualified with a module this parser does not know
	// (extensions), sorted.
	ext []string
}

type field struct {
	key  string // as written
	val  any
	used bool
}

// local splits a member name into its module (empty when unqualified) and
// its local name.
func local(s string) (module, name string) {
	if m, l, ok := strings.Cut(s, ":"); ok {
		return m, l
	}
	return "", s
}

// node reads v, found at path at, as an object.
func (p *parser) node(at string, v any) (*node, error) {
	o, ok := v.(obj)
	if !ok {
		return nil, fail(at, "not an object")
	}
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	n := &node{at: at, fields: make(map[string]field, len(o))}
	for _, k := range keys {
		mod, name := local(k)
		if mod != "" && !knownModules[mod] {
			n.ext = append(n.ext, k)
			continue
		}
		if prev, dup := n.fields[name]; dup {
			if !reflect.DeepEqual(prev.val, o[k]) {
				return nil, fail(at, "%q and %q are one node given twice, with different values", prev.key, k)
			}
			p.warn(at, "%q and %q are one node given twice (with the same value)", prev.key, k)
			continue
		}
		n.fields[name] = field{key: k, val: o[k]}
	}
	return n, nil
}

// path names a member of n for messages.
func (n *node) path(name string) string {
	key := name
	if f, ok := n.fields[name]; ok {
		key = f.key
	}
	if n.at == "" {
		return key
	}
	return n.at + "/" + key
}

// take returns the member with local name name, marking it read.
func (n *node) take(name string) (any, bool) {
	f, ok := n.fields[name]
	if !ok {
		return nil, false
	}
	f.used = true
	n.fields[name] = f
	return f.val, true
}

// has says whether the member exists, without reading it.
func (n *node) has(name string) bool {
	_, ok := n.fields[name]
	return ok
}

// str takes a string member; present says it was there, a non-string is
// an error.
func (n *node) str(name string) (s string, present bool, err error) {
	v, ok := n.take(name)
	if !ok {
		return "", false, nil
	}
	s, ok = v.(string)
	if !ok {
		return "", true, fail(n.path(name), "not a string")
	}
	return s, true, nil
}

// unused lists the members of known modules that were never taken, as
// written, sorted.
func (n *node) unused() []string {
	var out []string
	for _, f := range n.fields {
		if !f.used {
			out = append(out, f.key)
		}
	}
	sort.Strings(out)
	return out
}

func num(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case string:
		// RFC 7951 encodes 64-bit integers as strings; files write small
		// ones that way too.
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// uint8Leaf reads a YANG uint8 (ICMP type and code, protocol numbers).
func uint8Leaf(at string, v any) (int, error) {
	n, ok := num(v)
	if !ok || n < 0 || n > 255 {
		return 0, fail(at, "want a number from 0 to 255, got %v", show(v))
	}
	return int(n), nil
}

// show renders a JSON value found in a file for a message.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 80 {
		return fmt.Sprintf("%.80v", v)
	}
	return string(b)
}
