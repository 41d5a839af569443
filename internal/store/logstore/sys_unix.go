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
