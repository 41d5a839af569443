//go:build unix

package logstore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockDir takes an exclusive flock on the data directory, so that a second
// openfront on the same directory fails instead of sharing the log. The
// lock goes with the process, so a killed server leaves none behind.
func lockDir(dir string) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			d.Close()
			return nil, fmt.Errorf("lock %s: %w (is another openfront using it?)", dir, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeSpace returns the bytes free for an unprivileged user on f's
// filesystem.
func freeSpace(f *os.File) (int64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}

// spaceHint says how much space dir's filesystem has left when err is
// ENOSPC or EDQUOT ("" otherwise), for errors that say exactly why.
func spaceHint(err error, dir string) string {
	if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) {
		return ""
	}
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return " (the data directory's filesystem is full)"
	}
	return fmt.Sprintf(" (the filesystem of %s has %d bytes free of %d)", dir, int64(st.Bavail)*int64(st.Bsize), int64(st.Blocks)*int64(st.Bsize))
}
