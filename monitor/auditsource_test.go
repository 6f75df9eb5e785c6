package monitor

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openAuditOrSkip joins the audit multicast group (root, CAP_AUDIT_READ).
func openAuditOrSkip(t *testing.T) *auditSource {
	t.Helper()
	s, err := openAudit()
	if err != nil {
		t.Skipf("cannot join the audit multicast group here: %v", err)
	}
	return s
}

// A datagram another process sends to the monitor's socket is not taken
// for a kernel record.
func TestAuditSourceRejectsSpoofed(t *testing.T) {
	s := openAuditOrSkip(t)
	defer s.Close()
	sa, err := unix.Getsockname(s.conn.fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*unix.SockaddrNetlink).Pid
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	body := `audit(1795773997.100:10): pid=100 comm="probe" exe="/bin/probe" sig=0 arch=c000003e syscall=250 compat=0 ip=0x7f code=0x7ffc0000`
	msg := make([]byte, unix.NLMSG_HDRLEN+len(body))
	copy(msg[unix.NLMSG_HDRLEN:], body)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], uint16(AuditTypeSeccomp))
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: port}); err != nil {
		t.Skipf("cannot send to the socket here: %v", err)
	}
	for {
		r, err := s.Next()
		var perr *parseError
		if errors.As(err, &perr) && errors.Is(perr.err, errNotKernel) {
			return
		}
		if err != nil {
			t.Fatalf("Next: %v, want a parse error for the spoofed message", err)
		}
		if r.auditBody == body {
			t.Fatalf("a spoofed record was read as the kernel's")
		}
		// A real record from the kernel: read on.
	}
}

// Close ends a blocked Next.
func TestAuditSourceClose(t *testing.T) {
	s := openAuditOrSkip(t)
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := s.Next(); errors.Is(err, os.ErrClosed) {
				done <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	s.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Next did not return after Close")
	}
}
