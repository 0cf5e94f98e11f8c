//go:build unix

package park

import (
	"net"
	"syscall"
)

// closedByPeer reports whether the client closed its end of a connection, without reading
// what it may have sent: a non-blocking peek that finds the end of the stream.
func closedByPeer(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	var n int
	var rerr error
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait
	})
	if err != nil {
		return true
	}
	if rerr != nil {
		return rerr != syscall.EAGAIN && rerr != syscall.EWOULDBLOCK && rerr != syscall.EINTR
	}
	return n == 0
}
