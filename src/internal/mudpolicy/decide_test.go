package mudpolicy_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/mud"
	"github.com/trustjoin/trustjoin/src/internal/mudpolicy"
)

func TestDecide(t *testing.T) {
	const digest, other = "aaaa", "bbbb"
	E, P, R := mudpolicy.Enforce, mudpolicy.PendingApproval, mudpolicy.Rejected
	// want[policy] for: not approved, this file approved, another file approved.
	tests := []struct {
		status  mud.SigStatus
		require [3]mudpolicy.Verdict
		approve [3]mudpolicy.Verdict
		allow   [3]mudpolicy.Verdict
	}{
		{mud.SigVerified, [3]mudpolicy.Verdict{E, E, E}, [3]mudpolicy.Verdict{E, E, E}, [3]mudpolicy.Verdict{E, E, E}},
		{mud.SigNoCodeSigning, [3]mudpolicy.Verdict{E, E, E}, [3]mudpolicy.Verdict{E, E, E}, [3]mudpolicy.Verdict{E, E, E}},
		{mud.SigUnsigned, [3]mudpolicy.Verdict{R, R, R}, [3]mudpolicy.Verdict{P, E, P}, [3]mudpolicy.Verdict{E, E, E}},
		{mud.SigUnfetchable, [3]mudpolicy.Verdict{R, R, R}, [3]mudpolicy.Verdict{P, E, P}, [3]mudpolicy.Verdict{E, E, E}},
		{mud.SigUntrusted, [3]mudpolicy.Verdict{R, R, R}, [3]mudpolicy.Verdict{P, E, P}, [3]mudpolicy.Verdict{E, E, E}},
		{mud.SigExpired, [3]mudpolicy.Verdict{R, R, R}, [3]mudpolicy.Verdict{P, E, P}, [3]mudpolicy.Verdict{E, E, E}},
		{mud.SigBad, [3]mudpolicy.Verdict{R, R, R}, [3]mudpolicy.Verdict{P, E, P}, [3]mudpolicy.Verdict{P, E, P}},
	}
	for _, tt := range tests {
		for _, pol := range []struct {
			p    config.SignaturePolicy
			want [3]mudpolicy.Verdict
		}{{config.SignatureRequire, tt.require}, {config.SignatureApprove, tt.approve}, {config.SignatureAllow, tt.allow}} {
			var got [3]mudpolicy.Verdict
			for i, approved := range []string{"", digest, other} {
				d := mudpolicy.Decide(mud.Verification{Status: tt.status, Detail: "the detail", Digest: digest}, pol.p, approved)
				got[i] = d.Verdict
				if !strings.HasPrefix(d.Reason, "the detail") {
					t.Errorf("%s/%s: reason %q does not say what was found", tt.status, pol.p, d.Reason)
				}
			}
			if diff := cmp.Diff(pol.want, got); diff != "" {
				t.Errorf("%s under %s (not approved, approved, other approved): -want +got\n%s", tt.status, pol.p, diff)
			}
		}
	}
}

func TestDecideReasons(t *testing.T) {
	v := mud.Verification{Status: mud.SigUnsigned, Detail: "the MUD file is not signed", Digest: "d"}
	for _, tt := range []struct {
		p        config.SignaturePolicy
		approved string
		want     string
	}{
		{config.SignatureApprove, "", "until you approve this file"},
		{config.SignatureApprove, "d", "you approved this exact file"},
		{config.SignatureRequire, "d", "signature policy 'require'"},
		{config.SignatureAllow, "", "signature policy 'allow'"},
	} {
		if d := mudpolicy.Decide(v, tt.p, tt.approved); !strings.Contains(d.Reason, tt.want) {
			t.Errorf("%s %q: %q lacks %q", tt.p, tt.approved, d.Reason, tt.want)
		}
	}
}
