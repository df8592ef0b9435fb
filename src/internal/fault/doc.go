// Package fault is the one error type that crosses trustjoin's layers: an
// Error carries a Kind, which the layers above act on (the local API's
// status code, the phone page's answer), and a message in plain language
// that is shown to people as it is. No layer reads another's message to
// learn what went wrong.
package fault
