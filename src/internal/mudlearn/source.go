package mudlearn

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trustjoin/trustjoin/src/internal/fsutil"
	"github.com/trustjoin/trustjoin/src/internal/mud"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
)

// approvedDir holds the profiles the householder approved, as the MUD
// files they became (one per device, on flash).
func approvedDir(dir string) string { return filepath.Join(dir, "approved") }

// Keep writes a device's approved profile, raw as Propose wrote it, where
// Source serves it, and returns its MUD URL.
func (l *Learner) Keep(id string, raw []byte) (string, error) {
	dir := approvedDir(l.o.Dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("failed to create %s: %v", dir, err)
	}
	if _, err := fsutil.WriteFile(filepath.Join(dir, sanitise(id)+".json"), raw, 0o600); err != nil {
		return "", fmt.Errorf("failed to keep the approved profile of %s: %v", id, err)
	}
	return URL(id), nil
}

// Source serves the approved profiles at their MUD URLs (URLBase…) from
// the router's flash, so the device owner takes one exactly as it takes
// a maker's file (parsed, its digest checked against the approval,
// compiled into the firewall); every other URL goes to Next.
type Source struct {
	// Dir is the Learner's (Options.Dir).
	Dir string
	// MaxSize bounds a file, as for fetched ones.
	MaxSize int
	Next    mudpolicy.Source
}

var _ mudpolicy.Source = (*Source)(nil)

func (s *Source) local(u string) (string, bool) {
	name, ok := strings.CutPrefix(u, URLBase)
	if !ok || s.Dir == "" {
		return "", false
	}
	return name, true
}

func (s *Source) read(u, name string) (*mud.Result, error) {
	if name == "" || sanitise(strings.TrimSuffix(name, ".json"))+".json" != name {
		return nil, fmt.Errorf("%s names no learned profile", u)
	}
	path := filepath.Join(approvedDir(s.Dir), name)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("no approved learned profile at %s (%v): approve it again with trustjoin mud learn DEVICE --approve", u, err)
	}
	p, err := mud.Parse(raw, s.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if p.URL != u {
		return nil, fmt.Errorf("%s says its URL is %s, not %s", path, p.URL, u)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	return &mud.Result{Policy: p, Raw: raw, FetchedAt: fi.ModTime()}, nil
}

// Get implements mudpolicy.Source.
func (s *Source) Get(ctx context.Context, u string) (*mud.Result, error) {
	if name, ok := s.local(u); ok {
		return s.read(u, name)
	}
	return s.Next.Get(ctx, u)
}

// Cached implements mudpolicy.Source: an approved profile is always at
// hand.
func (s *Source) Cached(u string) (*mud.Result, bool) {
	if name, ok := s.local(u); ok {
		r, err := s.read(u, name)
		return r, err == nil
	}
	return s.Next.Cached(u)
}

// Signature implements mudpolicy.Source; a learned profile names none.
func (s *Source) Signature(ctx context.Context, u string) ([]byte, error) {
	return s.Next.Signature(ctx, u)
}

// CachedSignature implements mudpolicy.Source.
func (s *Source) CachedSignature(u string) ([]byte, bool) { return s.Next.CachedSignature(u) }
