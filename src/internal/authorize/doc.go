// Package authorize asks an optional authorisation hook whether a device
// may have a credential, before it gets one and again periodically, so an
// ISP or an attestation service can plug in (NIST SP 1800-36 S4.C1–C3,
// S1.C2). The hook is a program (/etc/trustjoin/hooks/authorize) given
// what is known of the device as JSON on its standard input; it answers
// JSON on its standard output: allow, deny, or a segment to put the
// device in. It is never given a secret.
//
// A hook that is absent allows everything (there is no hook). A hook that
// is there but cannot answer (not root's, writable by others, fails, times
// out, answers nonsense) is a failure: before a credential is given, the
// configured choice decides (fail closed by default: no credential while
// the hook is broken); on a periodic check a failure changes nothing, so
// an attestation service being down never disconnects the household.
package authorize
