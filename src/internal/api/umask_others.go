//go:build !linux

package api

func umask(mask int) int { return mask }
