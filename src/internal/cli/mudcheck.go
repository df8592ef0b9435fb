package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/firewall"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// checkReport is what `trustjoin mud check` found, and its JSON form. Each
// rule has a place for the nftables rules it compiles to, so the firewall
// can add them (--nft) without changing the shape.
type checkReport struct {
	Source   string `json:"source"`
	Size     int    `json:"size"`
	MaxSize  int    `json:"max_size"`
	Accepted bool   `json:"accepted"`
	// Error says why the file is rejected.
	Error string `json:"error,omitempty"`

	URL           string   `json:"mud_url,omitempty"`
	LastUpdate    string   `json:"last_update,omitempty"` // RFC 3339
	CacheValidity int      `json:"cache_validity_hours,omitempty"`
	IsSupported   bool     `json:"is_supported,omitempty"`
	Signature     string   `json:"mud_signature,omitempty"`
	Systeminfo    string   `json:"systeminfo,omitempty"`
	MfgName       string   `json:"mfg_name,omitempty"`
	ModelName     string   `json:"model_name,omitempty"`
	Extensions    []string `json:"extensions,omitempty"`
	// Confines is false for a file that names no access list: the device
	// keeps its segment's default.
	Confines bool        `json:"confines"`
	Warnings []string    `json:"warnings"`
	Entries  []entryView `json:"entries"`
	// Ruleset is the whole nftables ruleset trustjoin would install for a
	// device with this file, which nft -f loads (--nft).
	Ruleset string `json:"nft_ruleset,omitempty"`
	nft     bool
}

type entryView struct {
	// Policy is from-device or to-device, or empty when neither policy
	// names the entry's access list.
	Policy  string     `json:"policy"`
	ACL     string     `json:"acl"`
	ACE     string     `json:"ace"`
	Path    string     `json:"path"`
	Action  string     `json:"action"`
	Rules   []ruleView `json:"rules"`
	Ignored string     `json:"ignored,omitempty"`
	Notes   []string   `json:"notes"`
}

// ruleView is one rule of the policy model, with its description.
type ruleView struct {
	Text string `json:"text"`
	// Family is 4 or 6, 0 for both; Protocol -1 is any.
	Family    int        `json:"family"`
	Protocol  int        `json:"protocol"`
	ICMPType  *int       `json:"icmp_type,omitempty"`
	ICMPCode  *int       `json:"icmp_code,omitempty"`
	EtherType int        `json:"ethertype,omitempty"`
	SrcNet    string     `json:"src_network,omitempty"`
	DstNet    string     `json:"dst_network,omitempty"`
	SrcDNS    string     `json:"src_dnsname,omitempty"`
	DstDNS    string     `json:"dst_dnsname,omitempty"`
	SrcPorts  *portsView `json:"src_ports,omitempty"`
	DstPorts  *portsView `json:"dst_ports,omitempty"`
	Direction string     `json:"direction_initiated,omitempty"`
	Peer      string     `json:"peer,omitempty"`
	PeerValue string     `json:"peer_value,omitempty"`
	// NFT holds the nftables rules this rule compiles to, each after the
	// chain it is in, when asked for (--nft); none: it grants nothing
	// on this router.
	NFT  []string `json:"nft,omitempty"`
	rule mud.Rule
}

// portsView is a port range, lower to upper inclusive; with not, every
// port but lower.
type portsView struct {
	Lower uint16 `json:"lower"`
	Upper uint16 `json:"upper"`
	Not   bool   `json:"not,omitempty"`
}

func newPortsView(p *mud.Ports) *portsView {
	if p == nil {
		return nil
	}
	return &portsView{Lower: p.Lo, Upper: p.Hi, Not: p.Neq}
}

func newRuleView(policy mud.Direction, r mud.Rule) ruleView {
	v := ruleView{Text: r.Describe(policy), Family: r.Family, Protocol: r.Protocol, EtherType: r.EtherType,
		SrcDNS: r.SrcDNS, DstDNS: r.DstDNS, SrcPorts: newPortsView(r.SrcPorts), DstPorts: newPortsView(r.DstPorts),
		Direction: string(r.Direction), Peer: string(r.Peer), PeerValue: r.PeerValue, rule: r}
	if r.SrcNet.IsValid() {
		v.SrcNet = r.SrcNet.String()
	}
	if r.DstNet.IsValid() {
		v.DstNet = r.DstNet.String()
	}
	if c := r.ICMP; c != nil {
		if c.Type >= 0 {
			v.ICMPType = &c.Type
		}
		if c.Code >= 0 {
			v.ICMPCode = &c.Code
		}
	}
	return v
}

const mudCheckUsage = "usage: trustjoin mud check FILE|URL [--json] [--nft] [--config FILE]   parse a MUD file (- for standard input, or an https URL) and say what each entry becomes"

// runMUDCheck parses a MUD file the way the daemon would and says what
// each entry becomes. It needs no daemon. Exit status: 0 accepted, 1
// rejected (or not fetched), 2 usage.
func runMUDCheck(ctx context.Context, env Env) int {
	f := newFlags("mud check", env)
	cfgPath := f.String("config", config.DefaultPath, "UCI configuration `file` whose mud.max_size and mud.fetch_timeout apply (defaults when it does not exist)")
	asJSON := f.Bool("json", false, "print JSON for scripts")
	nft := f.Bool("nft", false, "also show the nftables rules each entry compiles to and the ruleset trustjoin would install for the device (no kernel needed)")
	pos, err := parseAnywhere(f, env.Args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(env.Stderr, mudCheckUsage)
		return 2
	}
	src := pos[0]
	cfg := checkConfig(env, *cfgPath)
	limits := cfg.MUD
	rep := &checkReport{Source: src, MaxSize: limits.MaxSize, Warnings: []string{}, Entries: []entryView{}}

	var raw []byte
	switch {
	case strings.Contains(src, "://"):
		fetcher := &mud.Fetcher{Client: &http.Client{}, Timeout: limits.FetchTimeout}
		// Fetched up to the most any configuration allows, so a file over
		// this one's limit can still be shown, and the limit named.
		raw, err = fetcher.Fetch(ctx, src, mud.MaxSizeLimit)
		if err != nil {
			rep.Error = err.Error()
			return rep.print(env, *asJSON)
		}
	default:
		raw, err = readLimited(env, src)
		if err != nil {
			fmt.Fprintf(env.Stderr, "trustjoin mud check: %v\n", err)
			return 2
		}
		if len(raw) > mud.MaxSizeLimit {
			rep.Size = len(raw)
			rep.Error = fmt.Sprintf("the file is larger than %d bytes, the most trustjoin ever accepts", mud.MaxSizeLimit)
			return rep.print(env, *asJSON)
		}
	}
	rep.Size = len(raw)
	p, err := mud.Parse(raw, mud.MaxSizeLimit)
	if err != nil {
		rep.Error = err.Error()
		return rep.print(env, *asJSON)
	}
	rep.fill(p)
	if *nft {
		if err := rep.addNFT(p, cfg.Controllers); err != nil {
			fmt.Fprintf(env.Stderr, "trustjoin mud check: %v\n", err)
			return 1
		}
	}
	rep.Accepted = true
	switch {
	case len(raw) > limits.MaxSize:
		rep.Accepted = false
		rep.Error = fmt.Sprintf("the file is %d bytes, more than mud.max_size (%d): the daemon refuses it (mud.max_size may be raised up to %d)", len(raw), limits.MaxSize, mud.MaxSizeLimit)
	case strings.Contains(src, "://") && p.URL != src:
		rep.Accepted = false
		rep.Error = fmt.Sprintf("the file says its URL is %s, not %s: the daemon refuses a file fetched from another URL than its own", p.URL, src)
	}
	return rep.print(env, *asJSON)
}

// checkConfig reads the configuration whose limits (and, for --nft,
// controllers) the daemon would apply: the file where there is one, the
// defaults otherwise (on a laptop).
func checkConfig(env Env, path string) *config.Config {
	cfg, err := config.Load(path)
	if err == nil {
		return cfg
	}
	def, _ := config.Parse("defaults", strings.NewReader(""))
	if _, serr := os.Stat(path); !errors.Is(serr, fs.ErrNotExist) {
		fmt.Fprintf(env.Stderr, "trustjoin mud check: %v; using the default limits\n", err)
	}
	return def
}

// addNFT adds the nftables rules each rule compiles to, and the ruleset,
// as the firewall plans them for a device with policy p (controllers
// give controller matches their addresses).
func (rep *checkReport) addNFT(p *mud.Policy, ctl []config.Controller) error {
	o := firewall.RenderOptions{Controllers: ctl}
	compiled, err := firewall.Explain(p, o)
	if err != nil {
		return err
	}
	// Explain follows the from-device policy, then the to-device one;
	// the entries hold the same rules in the same order.
	byPolicy := map[string][]firewall.ACERules{}
	for _, c := range compiled {
		k := string(mud.ToDevice)
		if c.FromDevice {
			k = string(mud.FromDevice)
		}
		byPolicy[k] = append(byPolicy[k], c)
	}
	for i := range rep.Entries {
		e := &rep.Entries[i]
		for j := range e.Rules {
			rest := byPolicy[e.Policy]
			if len(rest) == 0 {
				break // named by neither policy: nothing compiled
			}
			for _, r := range rest[0].Rules {
				e.Rules[j].NFT = append(e.Rules[j].NFT, r.Chain+": "+r.Rule)
			}
			byPolicy[e.Policy] = rest[1:]
		}
	}
	rep.Ruleset, err = firewall.Render(p, o)
	rep.nft = true
	return err
}

// readLimited reads a file (or standard input for "-") up to one byte over
// the most trustjoin accepts.
func readLimited(env Env, path string) ([]byte, error) {
	var r io.Reader = env.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	return io.ReadAll(io.LimitReader(r, mud.MaxSizeLimit+1))
}

func (rep *checkReport) fill(p *mud.Policy) {
	rep.URL, rep.CacheValidity = p.URL, int(p.CacheValidity/time.Hour)
	if !p.LastUpdate.IsZero() {
		rep.LastUpdate = p.LastUpdate.Format(time.RFC3339)
	}
	rep.IsSupported, rep.Signature, rep.Systeminfo = p.IsSupported, p.Signature, p.Systeminfo
	rep.MfgName, rep.ModelName, rep.Extensions = p.MfgName, p.ModelName, p.Extensions
	rep.Confines = !p.NamesNoACL
	rep.Warnings = append(rep.Warnings, p.Warnings...)
	for _, e := range p.Entries {
		v := entryView{Policy: string(e.Policy), ACL: e.ACL, ACE: e.ACE, Path: e.Path, Action: "drop",
			Rules: []ruleView{}, Ignored: e.Ignored, Notes: e.Notes}
		if e.Accept {
			v.Action = "accept"
		}
		if v.Notes == nil {
			v.Notes = []string{}
		}
		for _, r := range e.Rules {
			v.Rules = append(v.Rules, newRuleView(e.Policy, r))
		}
		rep.Entries = append(rep.Entries, v)
	}
}

// print writes the report and returns the exit status.
func (rep *checkReport) print(env Env, asJSON bool) int {
	status := 1
	if rep.Accepted {
		status = 0
	}
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return status
	}
	w := env.Stdout
	fmt.Fprintf(w, "%s: %d bytes (mud.max_size %d)\n", rep.Source, rep.Size, rep.MaxSize)
	if rep.URL != "" {
		fmt.Fprintf(w, "MUD file of %s\n", rep.URL)
		var who []string
		for _, s := range []string{rep.MfgName, rep.ModelName, rep.Systeminfo} {
			if s != "" {
				who = append(who, s)
			}
		}
		if len(who) > 0 {
			fmt.Fprintf(w, "  %s\n", strings.Join(who, ", "))
		}
		sig := "no signature"
		if rep.Signature != "" {
			sig = "signature " + rep.Signature
		}
		supported := "supported"
		if !rep.IsSupported {
			supported = "no longer supported by its maker"
		}
		updated := "no last-update"
		if rep.LastUpdate != "" {
			updated = "last update " + rep.LastUpdate
		}
		fmt.Fprintf(w, "  %s, cache validity %d h, %s, %s\n", updated, rep.CacheValidity, supported, sig)
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	heading := ""
	rules, ignored := 0, 0
	for _, e := range rep.Entries {
		h := e.Policy + " policy"
		if e.Policy == "" {
			h = "named by neither policy"
		}
		if h != heading {
			fmt.Fprintf(w, "\n%s:\n", h)
			heading = h
		}
		path := e.Path
		if _, after, ok := strings.Cut(path, "/"); ok {
			path = after
		}
		fmt.Fprintf(w, "  ace %q of acl %q (%s): %s\n", e.ACE, e.ACL, path, e.Action)
		for _, r := range e.Rules {
			fmt.Fprintf(w, "    %s\n", r.Text)
			for _, n := range r.NFT {
				fmt.Fprintf(w, "      nft: %s\n", n)
			}
			if rep.nft && len(r.NFT) == 0 && e.Policy != "" {
				fmt.Fprintln(w, "      nft: no rule (nothing on this router matches it)")
			}
		}
		rules += len(e.Rules)
		if e.Ignored != "" {
			ignored++
			fmt.Fprintf(w, "    IGNORED: %s\n", e.Ignored)
		}
		for _, n := range e.Notes {
			fmt.Fprintf(w, "    note: %s\n", n)
		}
	}
	if rep.URL != "" && !rep.Confines {
		fmt.Fprintln(w, "\nThe file names no access list: it does not confine the device, which keeps its segment's default.")
	}
	fmt.Fprintln(w)
	if rep.Accepted {
		fmt.Fprintf(w, "ACCEPTED: %s: %s, %s ignored; %s\n", count(len(rep.Entries), "entry", "entries"),
			count(rules, "rule", "rules"), count(ignored, "entry", "entries"), count(len(rep.Warnings), "warning", "warnings"))
	} else {
		fmt.Fprintf(w, "REJECTED: %s\n", rep.Error)
	}
	if rep.Ruleset != "" {
		fmt.Fprintf(w, "\n%s", rep.Ruleset)
	}
	return status
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
