// Package expiry keeps time for credentials with a lifetime (NIST SP
// 1800-36 S4.C7–C8, S5.C3): it warns the household a while before a
// device's credential expires and, when it has, asks for it to be
// withdrawn, which the device owner does exactly as a removal, keeping the
// device as expired so it can be onboarded again in one step. It only
// keeps time: what expires and what that does are its caller's.
package expiry
