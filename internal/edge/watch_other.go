//go:build !unix

package edge

import (
	"context"
	"net"
)

// watchViewer is a no-op where the socket cannot be peeked at: a viewer
// that goes away is noticed when its answer is written.
func watchViewer(net.Conn, context.CancelFunc) (stop func()) { return func() {} }
