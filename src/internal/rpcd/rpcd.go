package rpcd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/api"
)

// A Method is one ubus method and how it maps onto the local API.
type Method struct {
	// Args are the arguments with example values, from which rpcd infers
	// their types ("" string, false bool, 0 int32).
	Args map[string]any
	call func(ctx context.Context, c *api.Client, a args) (any, error)
}

type args map[string]any

func (a args) str(k string) string {
	s, _ := a[k].(string)
	return s
}

func (a args) id() (string, error) {
	id := a.str("id")
	switch id {
	case "":
		return "", refusef(`argument "id" is required`)
	case ".", "..":
		// A path step, not a name: the API would read it as the list.
		return "", refusef(`argument "id": %q names nothing`, id)
	}
	return url.PathEscape(id), nil
}

// name checks a name argument as the API will, so LuCI and an ACS learn
// what is wrong before anything is sent.
func (a args) name() (string, error) {
	n := a.str("name")
	if err := api.CheckName(n); err != nil {
		return "", refusef(`argument "name": %v`, err)
	}
	return n, nil
}

// ref names the element an "id" or an "instance" argument points at. An
// instance is the 1-based position in the list reply: bbfdm numbers the
// instances of a ubus-backed TR-181 object so and cannot pass an element's
// field, only its number ("{i}").
func (a args) ref(ctx context.Context, c *api.Client, list func(context.Context, *api.Client) ([]string, error)) (string, error) {
	inst, ok := a["instance"]
	if !ok || a.str("id") != "" {
		return a.id()
	}
	n, err := strconv.Atoi(strings.TrimSpace(fmt.Sprint(inst)))
	if err != nil || n < 1 {
		return "", refusef(`argument "instance" must be a positive number, not %v`, inst)
	}
	ids, err := list(ctx, c)
	if err != nil {
		return "", err
	}
	if n > len(ids) {
		return "", refusef("no instance %d: there are %d", n, len(ids))
	}
	return url.PathEscape(ids[n-1]), nil
}

func deviceIDs(ctx context.Context, c *api.Client) ([]string, error) {
	var r devicesReply
	if err := c.Do(ctx, "GET", "/v1/devices", nil, &r); err != nil {
		return nil, err
	}
	ids := make([]string, len(r.Devices))
	for i, d := range r.Devices {
		ids[i] = d.ID
	}
	return ids, nil
}

func preauthIDs(ctx context.Context, c *api.Client) ([]string, error) {
	var r preauthReply
	if err := c.Do(ctx, "GET", "/v1/preauth", nil, &r); err != nil {
		return nil, err
	}
	ids := make([]string, len(r.Entries))
	for i, e := range r.Entries {
		ids[i] = e.ID
	}
	return ids, nil
}

// falsy reports whether a boolean argument, as TR-069 agents pass them
// (strings), says false.
func falsy(v any) bool {
	switch v := v.(type) {
	case bool:
		return !v
	case string:
		return v == "0" || strings.EqualFold(v, "false")
	case float64:
		return v == 0
	}
	return false
}

// do calls the API and decodes into a value of type T, which is what
// limits a reply to known fields.
func do[T any](ctx context.Context, c *api.Client, method, path string, body any) (any, error) {
	var out T
	if err := c.Do(ctx, method, path, body, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func byID[T any](method, suffix string) func(context.Context, *api.Client, args) (any, error) {
	return func(ctx context.Context, c *api.Client, a args) (any, error) {
		id, err := a.ref(ctx, c, deviceIDs)
		if err != nil {
			return nil, err
		}
		return do[T](ctx, c, method, "/v1/devices/"+id+suffix, nil)
	}
}

type devicesReply struct {
	Devices []api.Device `json:"devices"`
}

type preauthReply struct {
	Entries []api.PreauthEntry `json:"entries"`
}

// behaviourReply is a device's behaviour with its latest destinations
// also as lists in plain words, newest first (what TR-181 carries as
// Device.{i}.Stats.DroppedDestinations, OpenedDestinations: a
// parameter's value is a string, and bbfdm reads an array as its length).
type behaviourReply struct {
	api.Behaviour
	DroppedTo string `json:"dropped_to"`
	OpenedTo  string `json:"opened_to"`
}

// maxListed bounds the destinations of each list: TR-181 strings are
// read whole, and the latest few are what a person looks at.
const maxListed = 16

func summarise(b api.Behaviour) behaviourReply {
	var dropped, opened []string
	for _, e := range b.Entries {
		switch {
		case e.Verdict == "dropped" && len(dropped) < maxListed:
			dropped = append(dropped, e.Destination())
		case e.Verdict == "opened" && len(opened) < maxListed:
			opened = append(opened, e.Destination())
		}
	}
	return behaviourReply{Behaviour: b, DroppedTo: strings.Join(dropped, ","), OpenedTo: strings.Join(opened, ",")}
}

// unknownReply is the unknown devices with each one's addresses also as
// one comma-separated string (TR-181's Unknown.{i}.Addresses).
type unknownReply struct {
	api.UnknownList
	Unknown []unknownDevice `json:"unknown"`
}

type unknownDevice struct {
	api.UnknownDevice
	AddressList string `json:"address_list"`
}

type removedReply struct {
	Removed   string `json:"removed,omitempty"`
	Cancelled string `json:"cancelled,omitempty"`
	Revoked   string `json:"revoked,omitempty"`
}

// Methods is the one table of what the ubus object offers; the LuCI ACL
// and the TR-069 data model are checked against it.
var Methods = map[string]Method{
	"status": {Args: map[string]any{}, call: func(ctx context.Context, c *api.Client, _ args) (any, error) {
		return do[api.Status](ctx, c, "GET", "/v1/status", nil)
	}},
	"brski_status": {Args: map[string]any{}, call: func(ctx context.Context, c *api.Client, _ args) (any, error) {
		return do[api.BRSKIStatus](ctx, c, "GET", "/v1/brski", nil)
	}},
	"devices": {Args: map[string]any{}, call: func(ctx context.Context, c *api.Client, _ args) (any, error) {
		return do[devicesReply](ctx, c, "GET", "/v1/devices", nil)
	}},
	"device": {Args: map[string]any{"id": "", "instance": ""}, call: byID[api.Device]("GET", "")},
	// quarantined "0" or "false" releases instead: a TR-069 write of the
	// device's Quarantined parameter is one call whatever the value.
	"quarantine": {Args: map[string]any{"id": "", "instance": "", "quarantined": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		if q, ok := a["quarantined"]; ok && falsy(q) {
			return byID[api.Device]("POST", "/release")(ctx, c, a)
		}
		return byID[api.Device]("POST", "/quarantine")(ctx, c, a)
	}},
	"release": {Args: map[string]any{"id": "", "instance": ""}, call: byID[api.Device]("POST", "/release")},
	"rotate":  {Args: map[string]any{"id": "", "instance": ""}, call: byID[api.Device]("POST", "/rotate")},
	"remove":  {Args: map[string]any{"id": "", "instance": ""}, call: byID[removedReply]("DELETE", "")},
	"rename": {Args: map[string]any{"id": "", "name": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		id, err := a.id()
		if err != nil {
			return nil, err
		}
		name, err := a.name()
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, refusef(`argument "name" is required`)
		}
		return do[api.Device](ctx, c, "PATCH", "/v1/devices/"+id, api.DeviceUpdate{Name: name})
	}},
	"move": {Args: map[string]any{"id": "", "instance": "", "segment": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		id, err := a.ref(ctx, c, deviceIDs)
		if err != nil {
			return nil, err
		}
		return do[api.Device](ctx, c, "PATCH", "/v1/devices/"+id, api.DeviceUpdate{Segment: a.str("segment")})
	}},
	"onboard": {Args: map[string]any{"method": "", "uri": "", "code": "", "identifier": "", "name": "", "segment": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		req := api.OnboardRequest{
			Method: a.str("method"), URI: a.str("uri"), Code: a.str("code"), Identifier: a.str("identifier"),
			Name: a.str("name"), Segment: a.str("segment"),
		}
		if err := req.Check(); err != nil {
			return nil, refusef("%v", err)
		}
		return do[api.Progress](ctx, c, "POST", "/v1/onboard", req)
	}},
	"progress": {Args: map[string]any{"id": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		id, err := a.id()
		if err != nil {
			return nil, err
		}
		return do[api.Progress](ctx, c, "GET", "/v1/onboard/"+id, nil)
	}},
	"cancel": {Args: map[string]any{"id": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		id, err := a.id()
		if err != nil {
			return nil, err
		}
		return do[removedReply](ctx, c, "DELETE", "/v1/onboard/"+id, nil)
	}},
	"mud_set": {Args: map[string]any{"id": "", "url": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		id, err := a.id()
		if err != nil {
			return nil, err
		}
		return do[api.Device](ctx, c, "POST", "/v1/devices/"+id+"/mud", api.MUDRequest{URL: a.str("url"), Source: "user"})
	}},
	"mud_approve": {Args: map[string]any{"id": ""}, call: byID[api.Device]("POST", "/mud/approve")},
	// Watching after onboarding: unknown devices, security events (since
	// an event number, for LuCI's polling and TR-069), a device's
	// behaviour and learned profile.
	"unknown": {Args: map[string]any{}, call: func(ctx context.Context, c *api.Client, _ args) (any, error) {
		var r api.UnknownList
		if err := c.Do(ctx, "GET", "/v1/unknown", nil, &r); err != nil {
			return nil, err
		}
		out := unknownReply{UnknownList: r, Unknown: make([]unknownDevice, len(r.Unknown))}
		for i, u := range r.Unknown {
			out.Unknown[i] = unknownDevice{UnknownDevice: u, AddressList: strings.Join(u.Addresses, ",")}
		}
		return out, nil
	}},
	"events": {Args: map[string]any{"since": 0}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		since := "0"
		switch v := a["since"].(type) {
		case nil:
		case float64:
			if v < 0 || v != float64(uint64(v)) {
				return nil, refusef(`argument "since" must be an event number, not %v`, v)
			}
			since = strconv.FormatUint(uint64(v), 10)
		default:
			// TR-069 agents pass strings.
			n, err := strconv.ParseUint(strings.TrimSpace(fmt.Sprint(v)), 10, 64)
			if err != nil {
				return nil, refusef(`argument "since" must be an event number, not %v`, v)
			}
			since = strconv.FormatUint(n, 10)
		}
		return do[api.EventList](ctx, c, "GET", "/v1/events?since="+since, nil)
	}},
	// action "block", "guest", or "" to undo.
	"unknown_handle": {Args: map[string]any{"mac": "", "action": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		mac := a.str("mac")
		if mac == "" {
			return nil, refusef(`argument "mac" is required`)
		}
		return do[api.HandledDevice](ctx, c, "POST", "/v1/unknown/"+url.PathEscape(mac), api.HandleRequest{Action: a.str("action")})
	}},
	"behaviour": {Args: map[string]any{"id": "", "instance": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		r, err := byID[api.Behaviour]("GET", "/behaviour")(ctx, c, a)
		if err != nil {
			return nil, err
		}
		return summarise(r.(api.Behaviour)), nil
	}},
	"mud_learn":         {Args: map[string]any{"id": ""}, call: byID[api.Learned]("GET", "/learned")},
	"mud_learn_approve": {Args: map[string]any{"id": ""}, call: byID[api.Device]("POST", "/learned/approve")},
	// mud_show is what the firewall enforces for a device (`trustjoin mud
	// show`): its rules in nft syntax and their counters.
	"mud_show": {Args: map[string]any{"id": ""}, call: byID[api.Enforced]("GET", "/enforced")},
	// phone_start returns the one-time link for the householder's phone
	// and its QR code; the link is the one secret a reply may carry.
	"phone_start": {Args: map[string]any{}, call: func(ctx context.Context, c *api.Client, _ args) (any, error) {
		return do[api.PhoneSession](ctx, c, "POST", "/v1/phone", nil)
	}},
	"phone_revoke": {Args: map[string]any{"id": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		id, err := a.id()
		if err != nil {
			return nil, err
		}
		return do[removedReply](ctx, c, "DELETE", "/v1/phone/"+id, nil)
	}},
	"preauth_list": {Args: map[string]any{}, call: func(ctx context.Context, c *api.Client, _ args) (any, error) {
		return do[preauthReply](ctx, c, "GET", "/v1/preauth", nil)
	}},
	// added_by says who pre-authorised the device ("acs" from TR-069),
	// "user" unless given.
	"preauth_add": {Args: map[string]any{"uri": "", "segment": "", "name": "", "added_by": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		by := a.str("added_by")
		if by == "" {
			by = "user"
		}
		if !isAddedBy(by) {
			return nil, refusef(`argument "added_by" must be a short lower-case word, not %q`, by)
		}
		name, err := a.name()
		if err != nil {
			return nil, err
		}
		return do[api.PreauthEntry](ctx, c, "POST", "/v1/preauth", api.PreauthRequest{URI: a.str("uri"), Segment: a.str("segment"), Name: name, AddedBy: by})
	}},
	// preauth_get is the entry of one preauth section of the
	// configuration (TR-069's PreAuthorized.{i}.), status "none" while
	// the daemon has none for it.
	"preauth_get": {Args: map[string]any{"section": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		sec := a.str("section")
		if sec == "" {
			return nil, refusef(`argument "section" is required`)
		}
		var r preauthReply
		if err := c.Do(ctx, "GET", "/v1/preauth", nil, &r); err != nil {
			return nil, err
		}
		for _, e := range r.Entries {
			if e.Section == sec {
				return e, nil
			}
		}
		return api.PreauthEntry{Status: "none", Section: sec}, nil
	}},
	"preauth_remove": {Args: map[string]any{"id": "", "instance": ""}, call: func(ctx context.Context, c *api.Client, a args) (any, error) {
		id, err := a.ref(ctx, c, preauthIDs)
		if err != nil {
			return nil, err
		}
		return do[removedReply](ctx, c, "DELETE", "/v1/preauth/"+id, nil)
	}},
}

// isAddedBy reports whether by is a short lower-case word: a letter, then
// up to 15 letters, digits or dashes. (By hand: regexp would cost the
// binary 0.25 MB for this one check.)
func isAddedBy(by string) bool {
	if len(by) == 0 || len(by) > 16 || by[0] < 'a' || by[0] > 'z' {
		return false
	}
	for _, c := range []byte(by[1:]) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// MethodNames lists the methods, sorted.
func MethodNames() []string {
	names := make([]string, 0, len(Methods))
	for n := range Methods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// List writes the signatures, as rpcd expects from "<plugin> list".
func List(w io.Writer) error {
	sigs := map[string]map[string]any{}
	for n, m := range Methods {
		sigs[n] = m.Args
	}
	return json.NewEncoder(w).Encode(sigs)
}

// Timeout bounds one call, far below rpcd's 120 s.
const Timeout = 15 * time.Second

// A Refusal is a call the daemon or the plugin turned down for what it
// asked (a bad value, an unknown device): the caller's fault, not the
// router's. Other errors (the daemon down or failing) are internal.
type Refusal struct{ Err error }

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

func refusef(format string, a ...any) error { return &Refusal{fmt.Errorf(format, a...)} }

// Refused reports whether err is a refusal (a Refusal or a 4xx answer of
// the API) rather than an internal failure.
func Refused(err error) bool {
	var r *Refusal
	var ae *api.Error
	return errors.As(err, &r) || (errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500)
}

// Call runs method with the JSON arguments read from in and writes to out
// what rpcd makes the ubus reply of; it returns the call's error.
//
// rpcd answers an exec plugin's call with status 0 and the plugin's output
// when that is one JSON object, and otherwise with an error status and no
// data at all (rpcd plugin.c, rpc_plugin_call_finish_cb): output that is
// JSON but not an object gives UBUS_STATUS_INVALID_ARGUMENT, no output
// UBUS_STATUS_NO_DATA; the exit status is ignored. So a failed call prints
//
//   - for a caller on the bus (TR-069 agents, scripts): the message as a
//     JSON string when the call was refused, and nothing when it failed
//     inside the router, so that bbfdm and easycwmp see an error status and
//     report a fault (9007, 9002) instead of a success;
//   - for a caller through uhttpd's /ubus (LuCI: its calls carry
//     "ubus_rpc_session"), {"error": "..."}: a status carries no message,
//     and the householder must read why.
func Call(ctx context.Context, c *api.Client, method string, in io.Reader, out io.Writer) error {
	a, err := readArgs(in)
	var reply any
	if err == nil {
		reply, err = call(ctx, c, method, a)
	}
	switch {
	case err == nil:
		json.NewEncoder(out).Encode(reply)
	case a.str("ubus_rpc_session") != "":
		json.NewEncoder(out).Encode(map[string]string{"error": err.Error()})
	case Refused(err):
		json.NewEncoder(out).Encode(err.Error())
	}
	return err
}

func readArgs(in io.Reader) (args, error) {
	a := args{}
	b, err := io.ReadAll(io.LimitReader(in, 1<<20))
	if err != nil {
		return a, fmt.Errorf("failed to read the arguments: %v", err)
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &a); err != nil {
			return args{}, refusef("the arguments are not a JSON object: %v", err)
		}
	}
	return a, nil
}

func call(ctx context.Context, c *api.Client, method string, a args) (any, error) {
	m, ok := Methods[method]
	if !ok {
		return nil, refusef("unknown method %q", method)
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	return m.call(ctx, c, a)
}
