package tr069_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/tr069"
)

// cpe is a test-only CWMP client for the trustjoin subtree. It applies
// each RPC through the paths the generated mappings name, as bbfdm or
// easycwmp would: settings by editing the UCI file (staged for the
// session, committed at its end, then SIGHUP as procd's reload trigger
// does), everything else by `trustjoin rpcd call` (what ubus runs).
type cpe struct {
	root     string // Device.X_TRUSTJOIN_TrustJoin.
	binary   string
	cfgPath  string
	lastGood string
	daemon   *os.Process

	staged   []config.Section // nil: nothing staged this session
	pending  map[string]string
	pendInst int
}

// CWMP fault codes (TR-069 Table A.5).
const (
	faultInvalidArgs  = 9003
	faultInternal     = 9002
	faultInvalidName  = 9005
	faultInvalidType  = 9006
	faultInvalidValue = 9007
	faultNotWritable  = 9008
)

type fault struct {
	code int
	msg  string
}

func (f *fault) Error() string { return fmt.Sprintf("%d %s", f.code, f.msg) }

func faultf(code int, format string, a ...any) *fault {
	return &fault{code, fmt.Sprintf(format, a...)}
}

// session runs one CWMP session against the ACS at url.
func (c *cpe) session(url string) error {
	inform := fmt.Sprintf(`<cwmp:Inform><DeviceId><Manufacturer>trustjoin</Manufacturer><OUI>00D09E</OUI><ProductClass>router</ProductClass><SerialNumber>test-1</SerialNumber></DeviceId><Event soap-enc:arrayType="cwmp:EventStruct[1]"><EventStruct><EventCode>2 PERIODIC</EventCode><CommandKey></CommandKey></EventStruct></Event><MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2026-01-01T00:00:00Z</CurrentTime><RetryCount>0</RetryCount>%s</cwmp:Inform>`,
		pvList([][3]string{{"Device.DeviceInfo.SoftwareVersion", "test", "string"}}))
	reply, err := post(url, soap("cpe-1", inform))
	if err != nil {
		return err
	}
	if e, err := parseEnvelope(reply); err != nil || e.Body.InformResponse == nil {
		return fmt.Errorf("no InformResponse: %v %s", err, reply)
	}
	c.staged = nil
	var out []byte // empty: the CPE has nothing more to say
	for {
		req, err := post(url, out)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(req)) == 0 {
			break
		}
		e, err := parseEnvelope(req)
		if err != nil {
			return err
		}
		out = soap(e.ID, c.handle(&e.Body))
	}
	return c.commit()
}

func post(url string, b []byte) ([]byte, error) {
	resp, err := http.Post(url, `text/xml; charset="utf-8"`, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return nil, fmt.Errorf("ACS answered %s: %s", resp.Status, body)
	}
	return body, nil
}

// handle answers one RPC with its response or a SOAP Fault.
func (c *cpe) handle(b *body) string {
	var (
		resp string
		err  error
	)
	switch {
	case b.GetParameterValues != nil:
		var pvs [][3]string
		for _, n := range b.GetParameterValues.Names {
			var v, typ string
			if v, typ, err = c.get(n); err != nil {
				break
			}
			pvs = append(pvs, [3]string{n, v, typ})
		}
		resp = "<cwmp:GetParameterValuesResponse>" + pvList(pvs) + "</cwmp:GetParameterValuesResponse>"
	case b.SetParameterValues != nil:
		var status int
		if status, err = c.set(b.SetParameterValues.Params); err == nil {
			resp = fmt.Sprintf("<cwmp:SetParameterValuesResponse><Status>%d</Status></cwmp:SetParameterValuesResponse>", status)
		}
	case b.AddObject != nil:
		var n int
		if n, err = c.addObject(b.AddObject.ObjectName); err == nil {
			resp = fmt.Sprintf("<cwmp:AddObjectResponse><InstanceNumber>%d</InstanceNumber><Status>0</Status></cwmp:AddObjectResponse>", n)
		}
	case b.DeleteObject != nil:
		if err = c.deleteObject(b.DeleteObject.ObjectName); err == nil {
			resp = "<cwmp:DeleteObjectResponse><Status>0</Status></cwmp:DeleteObjectResponse>"
		}
	default:
		err = faultf(9000, "method not supported")
	}
	if err == nil {
		return resp
	}
	var f *fault
	if !errors.As(err, &f) {
		f = &fault{faultInternal, err.Error()}
	}
	detail := fmt.Sprintf("<FaultCode>%d</FaultCode><FaultString>%s</FaultString>", f.code, esc(f.msg))
	var pf paramFaults
	if errors.As(err, &pf) {
		detail = fmt.Sprintf("<FaultCode>%d</FaultCode><FaultString>Invalid arguments</FaultString>", faultInvalidArgs)
		for _, p := range pf {
			detail += fmt.Sprintf("<SetParameterValuesFault><ParameterName>%s</ParameterName><FaultCode>%d</FaultCode><FaultString>%s</FaultString></SetParameterValuesFault>", esc(p.name), p.code, esc(p.msg))
		}
	}
	return "<soap:Fault><faultcode>Client</faultcode><faultstring>CWMP fault</faultstring><detail><cwmp:Fault>" + detail + "</cwmp:Fault></detail></soap:Fault>"
}

type paramFault struct {
	name string
	fault
}

type paramFaults []paramFault

func (p paramFaults) Error() string { return fmt.Sprintf("%d parameters refused", len(p)) }

var instanceRE = regexp.MustCompile(`\.(\d+)\.`)

// resolve finds the object and parameter a full name points at and the
// instance number in it (0 outside tables). An object name ends in ".".
func (c *cpe) resolve(name string) (tr069.Object, *tr069.Param, int, error) {
	rel, ok := strings.CutPrefix(name, c.root)
	if !ok && name+"." != c.root {
		return tr069.Object{}, nil, 0, faultf(faultInvalidName, "%s is not in %s", name, c.root)
	}
	inst := 0
	if m := instanceRE.FindStringSubmatch("." + rel); m != nil {
		inst, _ = strconv.Atoi(m[1])
		rel = strings.Replace("."+rel, m[0], ".{i}.", 1)[1:]
	}
	objPath, leaf := rel, ""
	if !strings.HasSuffix(rel, ".") && rel != "" {
		i := strings.LastIndex(rel, ".")
		objPath, leaf = rel[:i+1], rel[i+1:]
	}
	o, ok := tr069.Find(objPath)
	if !ok && strings.HasSuffix(objPath, ".") {
		o, ok = tr069.Find(objPath + "{i}.") // "Segment.": the table itself
	}
	if !ok {
		return tr069.Object{}, nil, 0, faultf(faultInvalidName, "no object %s", name)
	}
	if leaf == "" {
		return o, nil, inst, nil
	}
	for i := range o.Params {
		if o.Params[i].Name == leaf {
			return o, &o.Params[i], inst, nil
		}
	}
	return tr069.Object{}, nil, 0, faultf(faultInvalidName, "no parameter %s", name)
}

// ubus calls the trustjoin ubus object the way rpcd runs its plugin.
func (c *cpe) ubus(method string, args map[string]any) (map[string]any, error) {
	in, _ := json.Marshal(args)
	cmd := exec.Command(c.binary, "rpcd", "call", method)
	cmd.Env = append(os.Environ(), "TRUSTJOIN_CONFIG="+c.cfgPath, "TRUSTJOIN_LAST_GOOD="+c.lastGood)
	cmd.Stdin = bytes.NewReader(in)
	out, runErr := cmd.Output()
	var reply map[string]any
	if err := json.Unmarshal(out, &reply); err != nil {
		return nil, fmt.Errorf("ubus call trustjoin %s: %v (%v)", method, err, runErr)
	}
	if msg, ok := reply["error"].(string); ok || runErr != nil {
		return nil, faultf(faultInvalidValue, "ubus call trustjoin %s: %s", method, msg)
	}
	return reply, nil
}

func lookup(v any, key string) any {
	for _, k := range strings.Split(key, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func scalar(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case bool:
		if v {
			return "1"
		}
		return "0"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// elements lists a ubus-backed table.
func (c *cpe) elements(o tr069.Object) ([]any, error) {
	reply, err := c.ubus(o.Ubus.Method, map[string]any{})
	if err != nil {
		return nil, err
	}
	els, _ := lookup(reply, o.Ubus.Key).([]any)
	return els, nil
}

// sections is the UCI file as this session sees it (staged or committed).
func (c *cpe) sections() ([]config.Section, error) {
	if c.staged != nil {
		return c.staged, nil
	}
	b, err := os.ReadFile(c.cfgPath)
	if err != nil {
		return nil, err
	}
	return config.ParseUCI(bytes.NewReader(b))
}

// section is the UCI section a parameter maps to.
func (c *cpe) section(ss []config.Section, o tr069.Object, p *tr069.Param, inst int) (int, error) {
	n := 0
	for i, s := range ss {
		switch {
		case p.UCI.Section != "" && s.Name == p.UCI.Section:
			return i, nil
		case p.UCI.Section == "" && s.Type == o.UCIType:
			if n++; n == inst {
				return i, nil
			}
		}
	}
	return 0, faultf(faultInvalidName, "no instance %d of %s", inst, o.Path)
}

func (c *cpe) get(name string) (string, string, error) {
	o, p, inst, err := c.resolve(name)
	if err != nil {
		return "", "", err
	}
	if p == nil {
		return "", "", faultf(faultInvalidName, "%s: this CPE gets parameters only", name)
	}
	switch {
	case p.Hidden:
		return "", p.Type, nil
	case p.Count != "":
		t, _ := tr069.Find(p.Count)
		n := 0
		if t.UCIType != "" {
			ss, err := c.sections()
			if err != nil {
				return "", "", err
			}
			for _, s := range ss {
				if s.Type == t.UCIType {
					n++
				}
			}
		} else {
			els, err := c.elements(t)
			if err != nil {
				return "", "", err
			}
			n = len(els)
		}
		return strconv.Itoa(n), p.Type, nil
	case p.UCI != nil:
		ss, err := c.sections()
		if err != nil {
			return "", "", err
		}
		i, err := c.section(ss, o, p, inst)
		if err != nil {
			return "", "", err
		}
		if p.UCI.Option == "@Name" {
			return ss[i].Name, p.Type, nil
		}
		for _, opt := range ss[i].Options {
			if opt.Name == p.UCI.Option {
				return strings.Join(opt.Values, ","), p.Type, nil
			}
		}
		return "", p.Type, nil
	case o.Ubus != nil:
		els, err := c.elements(o)
		if err != nil {
			return "", "", err
		}
		if inst < 1 || inst > len(els) {
			if inst == c.pendInst && c.pending != nil {
				return c.pending[p.AddArg], p.Type, nil
			}
			return "", "", faultf(faultInvalidName, "no instance %d of %s", inst, o.Path)
		}
		return scalar(lookup(els[inst-1], p.Ubus.Key)), p.Type, nil
	default:
		reply, err := c.ubus(p.Ubus.Method, map[string]any{})
		if err != nil {
			return "", "", err
		}
		return scalar(lookup(reply, p.Ubus.Key)), p.Type, nil
	}
}

func checkValue(p *tr069.Param, v string) error {
	switch p.Type {
	case "boolean":
		if !slices.Contains([]string{"0", "1", "true", "false"}, v) {
			return faultf(faultInvalidType, "%q is not a boolean", v)
		}
	case "unsignedInt":
		if _, err := strconv.ParseUint(v, 10, 32); err != nil {
			return faultf(faultInvalidType, "%q is not an unsignedInt", v)
		}
	}
	if len(p.Enum) > 0 && !slices.Contains(p.Enum, v) {
		return faultf(faultInvalidValue, "%q is not one of %v", v, p.Enum)
	}
	return nil
}

// set applies a SetParameterValues as a whole: every value is checked
// first and none is applied when one is refused. UCI values are staged
// (status 1: applied when the session ends).
func (c *cpe) set(pvs []paramValue) (int, error) {
	type write struct {
		o    tr069.Object
		p    *tr069.Param
		inst int
		v    string
	}
	var (
		writes []write
		faults paramFaults
	)
	for _, pv := range pvs {
		o, p, inst, err := c.resolve(pv.Name)
		if err == nil && p == nil {
			err = faultf(faultInvalidName, "%s is an object", pv.Name)
		}
		if err == nil && !p.Write {
			err = faultf(faultNotWritable, "%s is read-only", pv.Name)
		}
		if err == nil && p.AddArg != "" && inst != c.pendInst {
			err = faultf(faultNotWritable, "%s: pre-authorised devices are written when added", pv.Name)
		}
		if err == nil {
			err = checkValue(p, pv.Value.Text)
		}
		if err != nil {
			var f *fault
			errors.As(err, &f)
			faults = append(faults, paramFault{pv.Name, *f})
			continue
		}
		writes = append(writes, write{o, p, inst, pv.Value.Text})
	}
	if len(faults) > 0 {
		return 0, faults
	}
	status := 0
	ss, err := c.sections()
	if err != nil {
		return 0, err
	}
	ss = slices.Clone(ss)
	added := false
	for _, w := range writes {
		switch {
		case w.p.UCI != nil:
			i, err := c.section(ss, w.o, w.p, w.inst)
			if err != nil {
				return 0, err
			}
			ss[i] = setOption(ss[i], w.p.UCI.Option, w.v, w.p.UCI.List)
			c.staged, status = ss, 1
		case w.p.Set != nil:
			// As the bbfdm plugin's set mapping has it: the instance
			// number ("{i}") and the value ("@Value"), both strings.
			if _, err := c.ubus(w.p.Set.Method, map[string]any{"instance": strconv.Itoa(w.inst), w.p.Set.Arg: w.v}); err != nil {
				return 0, err
			}
		case w.p.AddArg != "":
			c.pending[w.p.AddArg] = w.v
			added = true
		}
	}
	if added {
		o, _, _, _ := c.resolve(c.root + "PreAuthorized.")
		if uri := c.pending[o.Add.Arg]; uri != "" {
			args := map[string]any{}
			for k, v := range o.Add.Fixed {
				args[k] = v
			}
			for k, v := range c.pending {
				args[k] = v
			}
			if _, err := c.ubus(o.Add.Method, args); err != nil {
				return 0, err
			}
		}
	}
	return status, nil
}

func setOption(s config.Section, name, v string, list bool) config.Section {
	opts := slices.DeleteFunc(slices.Clone(s.Options), func(o config.Option) bool { return o.Name == name })
	vals := []string{v}
	if list {
		vals = strings.Split(v, ",")
	}
	s.Options = append(opts, config.Option{Name: name, Values: vals, List: list})
	return s
}

func (c *cpe) addObject(name string) (int, error) {
	o, p, _, err := c.resolve(name)
	if err != nil {
		return 0, err
	}
	if p != nil || !o.Access || !strings.HasSuffix(name, ".") {
		return 0, faultf(faultInvalidName, "%s: cannot add instances here", name)
	}
	if o.UCIType != "" {
		ss, err := c.sections()
		if err != nil {
			return 0, err
		}
		n := 1
		for _, s := range ss {
			if s.Type == o.UCIType {
				n++
			}
		}
		// Named as bbfdm names them: trustjoin refuses anonymous sections.
		c.staged = append(slices.Clone(ss), config.Section{Type: o.UCIType, Name: fmt.Sprintf("%s_%d", o.UCIType, n)})
		return n, nil
	}
	els, err := c.elements(o)
	if err != nil {
		return 0, err
	}
	c.pending, c.pendInst = map[string]string{}, len(els)+1
	return c.pendInst, nil
}

func (c *cpe) deleteObject(name string) error {
	o, p, inst, err := c.resolve(name)
	if err != nil {
		return err
	}
	if p != nil || !o.Access || inst == 0 {
		return faultf(faultInvalidName, "%s: cannot delete this", name)
	}
	if o.UCIType != "" {
		ss, err := c.sections()
		if err != nil {
			return err
		}
		i, err := c.section(ss, o, &tr069.Param{UCI: &tr069.UCI{}}, inst)
		if err != nil {
			return err
		}
		c.staged = slices.Delete(slices.Clone(ss), i, i+1)
		return nil
	}
	els, err := c.elements(o)
	if err != nil {
		return err
	}
	if inst > len(els) {
		return faultf(faultInvalidName, "no instance %d of %s", inst, o.Path)
	}
	_, err = c.ubus(o.Delete.Method, map[string]any{"id": scalar(lookup(els[inst-1], o.Key))})
	return err
}

// commit writes the staged UCI file as `uci commit` does and signals the
// daemon as procd's reload trigger does.
func (c *cpe) commit() error {
	if c.staged == nil {
		return nil
	}
	var b strings.Builder
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	for _, s := range c.staged {
		if s.Anonymous {
			fmt.Fprintf(&b, "\nconfig %s\n", s.Type)
		} else {
			fmt.Fprintf(&b, "\nconfig %s %s\n", s.Type, q(s.Name))
		}
		for _, o := range s.Options {
			kw := "option"
			if o.List {
				kw = "list"
			}
			for _, v := range o.Values {
				fmt.Fprintf(&b, "\t%s %s %s\n", kw, o.Name, q(v))
			}
		}
	}
	c.staged = nil
	tmp := c.cfgPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, c.cfgPath); err != nil {
		return err
	}
	return c.daemon.Signal(syscall.SIGHUP)
}
