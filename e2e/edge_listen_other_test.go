//go:build !linux

package e2e

import (
	"errors"
	"net"
)

func listenBacklog0() (net.Listener, error) {
	return nil, errors.New("needs Linux")
}
