package e2e

import (
	"net"
	"os"
	"syscall"
)

// listenBacklog0 listens on 127.0.0.1 with an accept queue of one
// connection, which nothing accepts: once it holds one, the kernel drops
// further SYNs and connection attempts hang.
func listenBacklog0() (net.Listener, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	sa := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	if err := syscall.Listen(fd, 0); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "backlog0")
	defer f.Close()
	return net.FileListener(f)
}
