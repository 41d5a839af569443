//go:build !unix

package logstore

import "os"

// lockDir does not lock where flock is not available.
func lockDir(dir string) (*os.File, error) { return os.Open(dir) }
