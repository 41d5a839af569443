//go:build unix

package fastserve

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// watchClient does for a bridged request what net/http's background read
// does: while the handler runs, it waits on the client's connection, and
// when the client closes or resets it, calls cancel. It peeks
// (MSG_PEEK) rather than reads, so a pipelined next request stays in the
// socket for the server, and the connection stays the *net.TCPConn the
// server writes to with writev. The returned stop ends the watch and
// waits for it; it must run before the server reads the connection again.
func watchClient(c net.Conn, cancel context.CancelFunc) (stop func()) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return func() {}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	// As net/http: the server's read deadline (for the request head)
	// must not end a handler that takes longer.
	_ = c.SetReadDeadline(time.Time{})
	var stopping atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		gone := false
		var b [1]byte
		err := rc.Read(func(fd uintptr) bool {
			n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				return false // wait until readable
			}
			gone = err != nil || n == 0 // reset, or closed (EOF)
			return true                 // n > 0: the next request; the client is there
		})
		if gone || (err != nil && !stopping.Load()) {
			cancel()
		}
	}()
	return func() {
		stopping.Store(true)
		_ = c.SetReadDeadline(time.Unix(1, 0))
		<-done
		_ = c.SetReadDeadline(time.Time{})
	}
}
