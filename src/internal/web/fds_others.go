//go:build !linux

package web

func fdLimit() (int, bool) { return 0, false }

func openFDs() (int, bool) { return 0, false }
