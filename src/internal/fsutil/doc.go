// Package fsutil writes files the way a router's flash needs: atomically
// (temp file, fsync, rename, fsync of the directory) so a power cut leaves
// the old or the new content, never half of either, and not at all when
// nothing changed, to spare flash wear.
package fsutil
