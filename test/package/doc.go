// Package pkgtest checks the OpenWrt packages `make ipk` produces, unpacked
// the way opkg reads them.
package pkgtest
