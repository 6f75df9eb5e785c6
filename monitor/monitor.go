// Package monitor implements `secrun monitor`, which turns the kernel's
// seccomp audit records (type 1326, from the audit netlink multicast group
// or /dev/kmsg) into findings attributed to the containers secrun
// confined, and `secrun findings summarize`, which reads them back per
// container with a profile patch.
package monitor

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Options configure a monitor.
type Options struct {
	Output  string // file, or "-" for stdout
	MaxSize int64
	Keep    int
	Roots   []string
	// Source is "audit" (the audit netlink multicast group), "kmsg" (the
	// kernel log) or "auto" (audit if it can be joined, else kmsg).
	Source        string
	Kmsg          string
	StatsInterval time.Duration
	// All reports containers secrun did not confine too.
	All bool
}

// Run monitors until ctx is done (or a non-device kmsg source ends).
func Run(ctx context.Context, o Options, out, stderr io.Writer) error {
	src, err := openSource(o, stderr)
	if err != nil {
		return err
	}
	reg := NewRegistry(o.Roots)
	m := newMonitor(o, reg, stderr)
	reg.Errors = m.warn
	reg.Refresh()
	return m.run(ctx, src, out)
}

// monitor is one run's state. Each field is owned by one of the stages
// (loop.go) or is atomic.
type monitor struct {
	o        Options
	reg      *Registry
	stderr   io.Writer
	boot     time.Time
	lines    chan []byte
	syscalls *syscallTable
	attrs    attrCache

	// Written by the reader goroutine.
	kmsgLost, queueDropped, readParseErrors atomic.Uint64
	// Written by the writer goroutine.
	writeErrors atomic.Uint64

	// Owned by the processing goroutine.
	records, findings, parseErrors uint64
	ignored                        map[string]uint64
	lost                           map[string]uint64
	reportedKmsg, reportedQueue    uint64
	serials                        serialTracker
	reportedGap                    uint64
	reportGaps                     bool // the serial gaps are the lost count (audit source)
	auditLost                      uint64
	auditLostKnown                 bool
	auditLostPoll                  func() (uint32, error)
	unattributedWindow             time.Time
	unattributedLines              int

	warnMu   sync.Mutex
	lastWarn time.Time
}

func newMonitor(o Options, reg *Registry, stderr io.Writer) *monitor {
	return &monitor{
		o: o, reg: reg, stderr: stderr, boot: bootTime(),
		lines:    make(chan []byte, 4096),
		syscalls: newSyscallTable(),
		attrs:    attrCache{},
		ignored:  map[string]uint64{}, lost: map[string]uint64{},
		auditLostPoll: auditLostCounter,
		serials:       serialTracker{missing: map[uint64]time.Time{}},
	}
}

// bootTime is the wall-clock time of the kernel log's zero.
func bootTime() time.Time {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return time.Time{}
	}
	return time.Now().Add(-time.Duration(ts.Nano()))
}

func (m *monitor) kmsgTime(usec uint64) string {
	if m.boot.IsZero() {
		return time.Now().UTC().Format(TimeFormat)
	}
	return m.boot.Add(time.Duration(usec) * time.Microsecond).UTC().Format(TimeFormat)
}

// warn reports a problem on stderr, at most once a second.
func (m *monitor) warn(err error) {
	m.warnMu.Lock()
	defer m.warnMu.Unlock()
	if time.Since(m.lastWarn) < time.Second {
		return
	}
	m.lastWarn = time.Now()
	fmt.Fprintf(m.stderr, "secrun monitor: %v\n", err)
}
