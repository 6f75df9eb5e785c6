package monitor

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// kmsgSource reads kernel log records. From the /dev/kmsg character device
// every read() returns one record; from anything else (a saved copy of
// /dev/kmsg, a pipe) records are lines and dictionary lines (starting with
// a space) are skipped.
type kmsgSource struct {
	f      *os.File
	device bool
	buf    []byte
	lines  *bufio.Reader
}

// openKmsg opens path; a device is positioned at its end, so that only
// records logged from now on are read.
func openKmsg(path string) (*kmsgSource, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&os.ModeCharDevice == 0 {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		return &kmsgSource{f: f, lines: bufio.NewReaderSize(f, 64<<10)}, nil
	}
	// Non-blocking, so that Go's poller waits for records and Close wakes
	// a pending read.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if _, err := unix.Seek(fd, 0, io.SeekEnd); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "seek", Path: path, Err: err}
	}
	// A record is at most 8 KiB (CONSOLE_EXT_LOG_MAX); a smaller buffer
	// makes read() fail with EINVAL.
	return &kmsgSource{f: os.NewFile(uintptr(fd), path), device: true, buf: make([]byte, 16<<10)}, nil
}

// errOverwritten is returned when the kernel overwrote records before they
// were read (read() fails with EPIPE); the next read returns the oldest
// record still there.
var errOverwritten = errors.New("kmsg records overwritten before they were read")

// source is where records come from.
type source interface {
	// Next returns the next record. errOverwritten and *parseError are
	// reported and reading goes on; any other error ends it.
	Next() (KmsgRecord, error)
	Close() error
	// Kind is "kmsg" or "audit".
	Kind() string
}

type parseError struct{ err error }

func (e *parseError) Error() string { return e.err.Error() }

// Next returns the next record.
func (s *kmsgSource) Next() (KmsgRecord, error) {
	raw, err := s.next()
	if err != nil {
		return KmsgRecord{}, err
	}
	k, err := ParseKmsg(raw)
	if err != nil {
		return k, &parseError{err}
	}
	return k, nil
}

func (s *kmsgSource) next() (string, error) {
	if !s.device {
		for {
			line, err := s.lines.ReadString('\n')
			if line == "" && err != nil {
				return "", err
			}
			if strings.HasPrefix(line, " ") || strings.TrimSpace(line) == "" {
				continue
			}
			return strings.TrimRight(line, "\n"), nil
		}
	}
	n, err := s.f.Read(s.buf)
	if errors.Is(err, syscall.EPIPE) {
		return "", errOverwritten
	}
	if err != nil {
		return "", err
	}
	return string(s.buf[:n]), nil
}

func (s *kmsgSource) Close() error { return s.f.Close() }

func (s *kmsgSource) Kind() string { return "kmsg" }

// auditNlgrpReadlog is AUDIT_NLGRP_READLOG, the netlink multicast group
// that gets a copy of every audit record (CAP_AUDIT_READ).
const auditNlgrpReadlog = 1

// auditSource reads every audit record from the audit netlink multicast
// group. Unlike the kernel log it is not rate limited by printk, and it
// works whether or not an audit daemon is registered. The socket buffer
// can overflow under a burst (recv fails with ENOBUFS): the records lost
// show as gaps in the audit serials.
type auditSource struct {
	fd      int
	buf     []byte
	pending []syscall.NetlinkMessage
	closed  atomic.Bool
	// Overflows counts ENOBUFS: the socket buffer overflowed.
	Overflows atomic.Uint64
}

func openAudit() (*auditSource, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("netlink audit socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (auditNlgrpReadlog - 1)}); err != nil {
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
	return &auditSource{fd: fd, buf: make([]byte, 1<<16)}, nil
}

func (s *auditSource) Next() (KmsgRecord, error) {
	for {
		if len(s.pending) > 0 {
			m := s.pending[0]
			s.pending = s.pending[1:]
			if m.Header.Type < 1000 || m.Header.Type == unix.NLMSG_ERROR {
				continue // netlink control messages
			}
			msg := strings.TrimRight(string(m.Data), "\x00\n")
			return KmsgRecord{Message: fmt.Sprintf("audit: type=%d %s", m.Header.Type, msg)}, nil
		}
		if s.closed.Load() {
			return KmsgRecord{}, os.ErrClosed
		}
		n, _, err := unix.Recvfrom(s.fd, s.buf, 0)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			continue
		case err == unix.ENOBUFS:
			s.Overflows.Add(1)
			continue
		case err != nil:
			if s.closed.Load() {
				return KmsgRecord{}, os.ErrClosed
			}
			return KmsgRecord{}, fmt.Errorf("reading the audit multicast group: %w", err)
		}
		// One record per datagram. The header's length is not to be
		// trusted: the audit subsystem sets nlmsg_len without the header
		// (a long-standing quirk auditd copes with too), so the payload
		// is the rest of the datagram.
		if n < unix.NLMSG_HDRLEN {
			return KmsgRecord{}, &parseError{fmt.Errorf("audit netlink message of %d bytes", n)}
		}
		s.pending = append(s.pending[:0], syscall.NetlinkMessage{
			Header: syscall.NlMsghdr{Type: binary.NativeEndian.Uint16(s.buf[4:6])},
			Data:   append([]byte(nil), s.buf[unix.NLMSG_HDRLEN:n]...),
		})
	}
}

// Close makes Next return os.ErrClosed within its receive timeout.
func (s *auditSource) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	go func() {
		// Let a pending recv time out before the fd number can be reused.
		time.Sleep(time.Second)
		unix.Close(s.fd)
	}()
	return nil
}

func (s *auditSource) Kind() string { return "audit" }

// auditLostCounter reads the audit subsystem's count of records it dropped
// (audit_status.lost) over NETLINK_AUDIT (AUDIT_GET; needs
// CAP_AUDIT_CONTROL in the initial namespaces).
func auditLostCounter() (uint32, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return 0, fmt.Errorf("netlink audit socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("netlink audit bind: %w", err)
	}
	tv := unix.NsecToTimeval(int64(time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	const auditGet = 1000
	req := make([]byte, unix.NLMSG_HDRLEN)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], auditGet)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(req[8:], 1)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("netlink audit send: %w", err)
	}
	buf := make([]byte, 8192)
	for tries := 0; tries < 4; tries++ {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return 0, fmt.Errorf("netlink audit receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return 0, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case auditGet:
				// struct audit_status: mask, enabled, failure, pid,
				// rate_limit, backlog_limit, lost, ... (u32 each).
				if len(m.Data) < 28 {
					return 0, fmt.Errorf("short audit_status (%d bytes)", len(m.Data))
				}
				return binary.NativeEndian.Uint32(m.Data[24:]), nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
						return 0, fmt.Errorf("AUDIT_GET: %w", syscall.Errno(-e))
					}
				}
			}
		}
	}
	return 0, errors.New("AUDIT_GET: no status in the reply")
}
