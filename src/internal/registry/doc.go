// Package registry keeps trustjoin's devices and pre-authorised bootstrap
// keys on flash, for the device owner (package device), which alone
// changes them. It is written atomically, only when something changed, and
// keeps the previous good copy so a power cut or a corrupt file never loses
// the household's devices. It holds no secret: passphrases live only in the
// root-only PSK files of package credential.
package registry
