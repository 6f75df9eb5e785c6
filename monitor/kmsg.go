package monitor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// KmsgRecord is one record read from /dev/kmsg:
// "PRI,SEQ,TS_USEC,FLAGS[,...];MESSAGE", optionally followed by
// continuation lines (" KEY=VALUE") that carry the record's dictionary.
type KmsgRecord struct {
	Priority int    // syslog priority and facility, as the kernel wrote them
	Seq      uint64 // the kernel's record sequence number (0: not from /dev/kmsg)
	TsUsec   uint64 // microseconds since boot (the kernel's log clock)
	Message  string // the message, with the kernel's \xNN escapes decoded
}

// ParseKmsg parses one /dev/kmsg record.
func ParseKmsg(raw string) (KmsgRecord, error) {
	var r KmsgRecord
	head, msg, ok := strings.Cut(raw, ";")
	if !ok {
		return r, fmt.Errorf("kmsg record without ';': %.80q", raw)
	}
	f := strings.Split(head, ",")
	if len(f) < 4 {
		return r, fmt.Errorf("kmsg record header %q: want PRI,SEQ,TS,FLAGS", head)
	}
	var err error
	if r.Priority, err = strconv.Atoi(f[0]); err != nil {
		return r, fmt.Errorf("kmsg record header %q: priority: %v", head, err)
	}
	if r.Seq, err = strconv.ParseUint(f[1], 10, 64); err != nil {
		return r, fmt.Errorf("kmsg record header %q: sequence: %v", head, err)
	}
	if r.TsUsec, err = strconv.ParseUint(f[2], 10, 64); err != nil {
		return r, fmt.Errorf("kmsg record header %q: timestamp: %v", head, err)
	}
	// The message ends at the first newline; dictionary lines follow.
	msg, _, _ = strings.Cut(msg, "\n")
	r.Message = unescapeKmsg(msg)
	return r, nil
}

// unescapeKmsg undoes the kernel's escaping of bytes < 0x20, >= 0x7f and
// backslash as \xNN.
func unescapeKmsg(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

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

// Next returns the next record.
func (s *kmsgSource) Next() (record, error) {
	raw, err := s.next()
	if err != nil {
		return record{}, err
	}
	k, err := ParseKmsg(raw)
	if err != nil {
		return record{}, &parseError{err}
	}
	return record{kmsg: k}, nil
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

// countsSequence: the device's records carry the kernel's sequence
// numbers, whose gaps are records overwritten before they were read.
func (s *kmsgSource) countsSequence() bool { return s.device }
