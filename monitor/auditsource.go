package monitor

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"golang.org/x/sys/unix"
)

// auditSource reads every audit record from the audit netlink multicast
// group (AUDIT_NLGRP_READLOG, CAP_AUDIT_READ) with go-libaudit. Unlike the
// kernel log it is not rate limited by printk, and it works whether or not
// an audit daemon is registered. The socket buffer can overflow under a
// burst (recv fails with ENOBUFS): the records lost show as gaps in the
// audit serials.
type auditSource struct {
	client *libaudit.AuditClient
	conn   *multicastConn
}

func openAudit() (*auditSource, error) {
	conn, err := openMulticast()
	if err != nil {
		return nil, err
	}
	return &auditSource{client: &libaudit.AuditClient{Netlink: conn}, conn: conn}, nil
}

func (s *auditSource) Next() (record, error) {
	for {
		raw, err := s.client.Receive(false)
		var perr *parseError
		switch {
		case s.conn.closed.Load():
			return record{}, os.ErrClosed
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR), errors.Is(err, unix.ENOBUFS):
			// A receive timeout (to notice Close), a signal, or an
			// overflow, which the serial gaps count.
			continue
		case errors.As(err, &perr):
			return record{}, err
		case err != nil:
			return record{}, fmt.Errorf("reading the audit multicast group: %w", err)
		}
		if raw.Type < 1000 {
			continue // netlink control messages (NLMSG_ERROR, NLMSG_DONE)
		}
		// raw.Data is the library's read buffer: the conversion copies.
		return record{auditType: raw.Type, auditBody: strings.TrimRight(string(raw.Data), "\x00\n")}, nil
	}
}

// Close makes Next return os.ErrClosed within its receive timeout.
func (s *auditSource) Close() error { return s.client.Close() }

func (s *auditSource) Kind() string { return "audit" }

// errNotKernel: a datagram on the audit socket that the kernel did not send.
var errNotKernel = errors.New("audit netlink message not from the kernel")

// multicastConn is the multicast group's socket, go-libaudit's transport
// for an AuditClient (which frames the audit messages). The library's own
// transport (NewMulticastAuditClient) would do but for two things the
// monitor needs: a large receive buffer, to ride out a burst of records,
// and a read that returns when the source is closed.
type multicastConn struct {
	fd     int
	buf    []byte
	closed atomic.Bool
}

func openMulticast() (*multicastConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("netlink audit socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (libaudit.NetlinkGroupReadLog - 1)}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("joining the audit multicast group (needs CAP_AUDIT_READ in the initial user namespace): %w", err)
	}
	// A large buffer rides out bursts; FORCE needs CAP_NET_ADMIN.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<20)
	}
	// Wake up now and then to notice Close.
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return &multicastConn{fd: fd, buf: make([]byte, unix.NLMSG_HDRLEN+libaudit.AuditMessageMaxLength)}, nil
}

// Receive reads one datagram (one audit record) and hands it to the
// library's parser.
func (c *multicastConn) Receive(nonBlocking bool, parse libaudit.NetlinkParser) ([]syscall.NetlinkMessage, error) {
	flags := 0
	if nonBlocking {
		flags = unix.MSG_DONTWAIT
	}
	n, from, err := unix.Recvfrom(c.fd, c.buf, flags)
	if err != nil {
		return nil, err
	}
	if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
		return nil, &parseError{errNotKernel}
	}
	msgs, err := parse(c.buf[:n])
	if err != nil {
		return nil, &parseError{fmt.Errorf("audit netlink message of %d bytes: %w", n, err)}
	}
	return msgs, nil
}

var errReadOnly = errors.New("the audit multicast group is read-only")

func (c *multicastConn) Send(syscall.NetlinkMessage) (uint32, error)       { return 0, errReadOnly }
func (c *multicastConn) SendNoWait(syscall.NetlinkMessage) (uint32, error) { return 0, errReadOnly }

// Close makes a pending Receive fail within its timeout.
func (c *multicastConn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	go func() {
		// Let a pending recv time out before the fd number can be reused.
		time.Sleep(time.Second)
		unix.Close(c.fd)
	}()
	return nil
}

// auditLostCounter reads the audit subsystem's count of records it dropped
// (audit_status.lost) with AUDIT_GET on go-libaudit's unicast client, which
// does not register as the audit daemon (needs CAP_AUDIT_CONTROL in the
// initial namespaces).
func auditLostCounter() (uint32, error) {
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	st, err := c.GetStatus()
	if err != nil {
		return 0, fmt.Errorf("AUDIT_GET: %w", err)
	}
	return st.Lost, nil
}
