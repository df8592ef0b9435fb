package mudpolicy

import (
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// Verdict is what may be done with a fetched MUD file.
type Verdict string

// The verdicts; their strings are the api.MUDStatus values.
const (
	Enforce         Verdict = "enforced"
	PendingApproval Verdict = "pending-approval"
	Rejected        Verdict = "rejected"
)

// Decision is a Verdict and the reason, in plain language.
type Decision struct {
	Verdict Verdict
	Reason  string
}

// Decide applies the signature policy to a file's verification. approved
// is the SHA-256 the householder approved for this device, if any: it only
// counts for exactly that file. A verified file is enforced under every
// policy. Otherwise require refuses; approve waits for approval of this
// exact file; allow enforces, except a signature that does not match its
// file (a sign of tampering), which always waits for approval.
func Decide(v mud.Verification, p config.SignaturePolicy, approved string) Decision {
	if v.Status.Trusted() {
		return Decision{Enforce, v.Detail}
	}
	if p == config.SignatureRequire {
		return Decision{Rejected, v.Detail + "; refused because MUD files must carry a verified signature (signature policy 'require')"}
	}
	if approved != "" && approved == v.Digest {
		return Decision{Enforce, v.Detail + "; enforced because you approved this exact file"}
	}
	if p == config.SignatureAllow && v.Status != mud.SigBad {
		return Decision{Enforce, v.Detail + "; enforced without a verified signature (signature policy 'allow')"}
	}
	return Decision{PendingApproval, v.Detail + "; it will not change what the device may reach until you approve this file"}
}
