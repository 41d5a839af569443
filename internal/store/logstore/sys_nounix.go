//go:build !unix

package logstore

import "os"

// lockDir does not lock where flock is not available.
func lockDir(dir string) (*os.File, error) { return os.Open(dir) }

// freeSpace is not known where statfs is not available.
func freeSpace(f *os.File) (int64, bool) { return 0, false }

// spaceHint says nothing where statfs is not available.
func spaceHint(err error, dir string) string { return "" }
