// Package config reads trustjoin's OpenWrt UCI file (/etc/config/trustjoin)
// into typed, validated values.
//
// There is no Go UCI library we can depend on, so Parse implements the UCI
// file syntax itself. Parsing is strict: an unknown section type, an unknown
// option or a bad value is an error naming the file, section and option, so
// a typo pushed by a householder or an ISP is caught before anything is
// applied. The daemon reads the committed file only; changes staged with
// `uci set` and not yet committed are not its concern.
package config
