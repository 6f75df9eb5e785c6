// Package monitor implements `secrun monitor`, which turns the kernel's
// seccomp audit records (type 1326, read from /dev/kmsg) into findings
// attributed to the containers secrun confined, and `secrun findings
// summarize`, which reads them back per container with a profile patch.
package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TimeFormat is how every line's time is written (RFC 3339, UTC, ms).
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// unattributedPerMinute caps the "unattributed" lines written a minute.
const unattributedPerMinute = 100

// Finding is one seccomp event of a container secrun confined.
type Finding struct {
	Type        string `json:"type"` // "finding", or "unattributed" when the process was gone
	Time        string `json:"time"`
	ContainerID string `json:"container_id"`
	Namespace   string `json:"namespace"`
	Pod         string `json:"pod"`
	Container   string `json:"container"`
	Syscall     string `json:"syscall"`
	SyscallNr   int64  `json:"syscall_nr"`
	Arch        string `json:"arch"`
	// Action is "logged" (complain mode: the call ran), "denied", or
	// "compat": the profile answered ENOSYS (clone3), so that libc falls
	// back to an older call; not a denial.
	Action  string `json:"action"`
	Seccomp string `json:"seccomp_action"`
	// Errno is what a denied call returned, from the container's profile
	// (the kernel's record has the action, not the errno); empty when
	// the profile does not tell.
	Errno   string `json:"errno,omitempty"`
	Signal  int    `json:"signal,omitempty"`
	Pid     int    `json:"pid"`
	Comm    string `json:"comm"`
	Exe     string `json:"exe"`
	Runtime string `json:"runtime,omitempty"`
	Policy  string `json:"policy,omitempty"`
	Serial  uint64 `json:"audit_serial"`
}

// Lost reports seccomp records the monitor knows it did not see.
type Lost struct {
	Type   string `json:"type"` // "lost"
	Time   string `json:"time"`
	Count  uint64 `json:"count"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// Loss reasons.
const (
	// LostPrintk: printk's rate limit dropped audit records before they
	// reached the kernel log ("kauditd_printk_skb: N callbacks suppressed").
	LostPrintk = "printk_ratelimit"
	// LostAudit: the audit subsystem dropped records (backlog full, rate
	// limit): the increase of its audit_lost counter.
	LostAudit = "audit_lost"
	// LostKmsg: kernel log records (of any kind) overwritten in the ring
	// buffer before the monitor read them.
	LostKmsg = "kmsg_overwritten"
	// LostQueue: records the monitor read but dropped because it could
	// not keep up.
	LostQueue = "monitor_queue_full"
	// LostSerial: with --source audit, audit event serials that never
	// arrived (the socket buffer overflowed). Every event takes a serial.
	LostSerial = "audit_serial_gap"
)

// Stats is written periodically and when the monitor stops.
type Stats struct {
	Type     string            `json:"type"` // "stats"
	Time     string            `json:"time"`
	Records  uint64            `json:"seccomp_records"`
	Findings uint64            `json:"findings"`
	Ignored  map[string]uint64 `json:"ignored"`
	Lost     map[string]uint64 `json:"lost"`
	// SerialGap counts audit event serials that never arrived (every
	// event takes one). With the kmsg source it is a cross-check of the
	// lost counts that needs no kernel message; with the audit source it
	// is the lost count.
	SerialGap   uint64 `json:"audit_serial_gap"`
	ParseErrors uint64 `json:"parse_errors,omitempty"`
	WriteErrors uint64 `json:"write_errors,omitempty"`
	Final       bool   `json:"final,omitempty"`
}

// Start is the first line: the monitor is reading from now on.
type Start struct {
	Type   string   `json:"type"` // "start"
	Time   string   `json:"time"`
	Source string   `json:"source"` // "audit" (netlink multicast) or "kmsg"
	Kmsg   string   `json:"kmsg,omitempty"`
	Roots  []string `json:"roots"`
	Pid    int      `json:"pid"`
}

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

const usage = `usage: secrun monitor [--output FILE|-] [--max-size BYTES] [--keep N] [--roots DIR,DIR...] [--source auto|audit|kmsg] [--kmsg PATH] [--stats-interval DURATION] [--all]

Reads the kernel's seccomp audit records (type=1326) and writes one JSON line
per record of a container secrun confined ("type":"finding"), plus "lost"
lines for records the kernel or the monitor dropped and periodic "stats"
lines. Records come from the audit netlink multicast group (every record,
also when auditd runs) or from /dev/kmsg (where printk's rate limit drops
most of a burst, and nothing arrives while auditd runs). Runs until SIGINT or
SIGTERM; SIGHUP reopens the output file.

`

// Main runs `secrun monitor ARGS` (args exclude "monitor").
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("secrun monitor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	o := Options{}
	fs.StringVar(&o.Output, "output", "-", "findings file (JSON lines), or - for stdout")
	fs.Int64Var(&o.MaxSize, "max-size", 64<<20, "rotate the output file when it would grow past this many bytes (0: never)")
	fs.IntVar(&o.Keep, "keep", 5, "rotated files to keep (FILE.1 ... FILE.N)")
	roots := fs.String("roots", "", "more runtime state directories to find containers in, comma-separated (globs allowed); searched with "+strings.Join(DefaultRoots, ","))
	fs.StringVar(&o.Source, "source", "auto", "where records come from: audit (netlink multicast group), kmsg, or auto (audit, else kmsg)")
	fs.StringVar(&o.Kmsg, "kmsg", "/dev/kmsg", "kernel log device (or a saved copy of it, read once) for --source kmsg")
	fs.DurationVar(&o.StatsInterval, "stats-interval", time.Minute, "how often to write a stats line (0: only at exit)")
	fs.BoolVar(&o.All, "all", false, "also report containers secrun did not confine")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "secrun monitor: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "kmsg" && o.Source == "auto" {
			o.Source = "kmsg" // a kernel log named on purpose is read
		}
	})
	if o.Source != "auto" && o.Source != "audit" && o.Source != "kmsg" {
		fmt.Fprintf(stderr, "secrun monitor: --source %q: must be auto, audit or kmsg\n", o.Source)
		return 2
	}
	if o.MaxSize < 0 || o.Keep < 0 {
		fmt.Fprintln(stderr, "secrun monitor: --max-size and --keep must not be negative")
		return 2
	}
	o.Roots = append([]string(nil), DefaultRoots...)
	for _, r := range strings.Split(*roots, ",") {
		if r = strings.TrimSpace(r); r != "" {
			o.Roots = append(o.Roots, r)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var out io.Writer = stdout
	if o.Output != "-" {
		f, err := OpenRotating(o.Output, o.MaxSize, o.Keep)
		if err != nil {
			fmt.Fprintf(stderr, "secrun monitor: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer func() { signal.Stop(hup); close(hup) }()
		go func() {
			for range hup {
				if err := f.Reopen(); err != nil {
					fmt.Fprintf(stderr, "secrun monitor: reopening %s: %v\n", o.Output, err)
				}
			}
		}()
	}
	if err := Run(ctx, o, out, stderr); err != nil {
		fmt.Fprintf(stderr, "secrun monitor: %v\n", err)
		return 1
	}
	return 0
}

// Run monitors until ctx is done (or a non-device kmsg source ends).
func Run(ctx context.Context, o Options, out, stderr io.Writer) error {
	var src source
	if o.Source == "audit" || o.Source == "auto" || o.Source == "" {
		a, err := openAudit()
		switch {
		case err == nil:
			src = a
		case o.Source == "audit":
			return err
		default:
			fmt.Fprintf(stderr, "secrun monitor: %v; reading /dev/kmsg instead, where printk's rate limit drops records\n", err)
		}
	}
	if src == nil {
		k, err := openKmsg(o.Kmsg)
		if err != nil {
			return err
		}
		src = k
	}
	reg := NewRegistry(o.Roots)
	m := newMonitor(o, reg, stderr)
	reg.Errors = m.warn
	reg.Refresh()
	return m.run(ctx, src, out)
}

type monitor struct {
	o      Options
	reg    *Registry
	stderr io.Writer
	boot   time.Time
	lines  chan []byte

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
	attrCache                      map[procKey]cachedAttribution

	warnMu   sync.Mutex
	lastWarn time.Time
}

func newMonitor(o Options, reg *Registry, stderr io.Writer) *monitor {
	m := &monitor{
		o: o, reg: reg, stderr: stderr, boot: bootTime(),
		lines:   make(chan []byte, 4096),
		ignored: map[string]uint64{}, lost: map[string]uint64{},
		auditLostPoll: auditLostCounter,
		serials:       serialTracker{missing: map[uint64]time.Time{}},
		attrCache:     map[procKey]cachedAttribution{},
	}
	return m
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

func now() string { return time.Now().UTC().Format(TimeFormat) }

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

func (m *monitor) emit(v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		m.warn(err)
		return
	}
	m.lines <- b.Bytes()
}

func (m *monitor) run(ctx context.Context, src source, out io.Writer) error {
	m.reportGaps = src.Kind() == "audit"
	// Three stages, so that a slow disk never stalls reading the kernel
	// log: the reader hands records to the processor through a large queue
	// (and counts what it must drop when that is full), the processor
	// attributes them, the writer writes lines.
	recs := make(chan KmsgRecord, 1<<16)
	var readErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		readErr = m.read(src, recs)
	}()
	writeDone := make(chan struct{})
	go func() {
		defer close(writeDone)
		for line := range m.lines {
			if _, err := out.Write(line); err != nil {
				m.writeErrors.Add(1)
				m.warn(fmt.Errorf("writing findings: %w", err))
			}
		}
	}()

	if n, err := m.auditLostPoll(); err == nil {
		m.auditLost, m.auditLostKnown = uint64(n), true
	} else {
		m.auditLostPoll = nil
	}
	st := Start{Type: "start", Time: now(), Source: src.Kind(), Roots: m.o.Roots, Pid: os.Getpid()}
	if src.Kind() == "kmsg" {
		st.Kmsg = m.o.Kmsg
	}
	m.emit(st)

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var stats <-chan time.Time
	if m.o.StatsInterval > 0 {
		t := time.NewTicker(m.o.StatsInterval)
		defer t.Stop()
		stats = t.C
	}
	refresh := time.NewTicker(5 * time.Second)
	defer refresh.Stop()

	stopping := ctx.Done()
	var giveUp <-chan time.Time
loop:
	for {
		select {
		case k, ok := <-recs:
			if !ok {
				break loop
			}
			m.handle(k)
		case <-tick.C:
			m.flushLosses()
			m.pollAuditLost()
		case <-refresh.C:
			m.reg.Refresh()
		case <-stats:
			m.emitStats(false)
		case <-stopping:
			// Stop reading; the records already queued are still handled.
			src.Close()
			stopping = nil
			giveUp = time.After(2 * time.Second)
		case <-giveUp:
			break loop
		}
	}
	m.serials.expire(time.Now(), 0)
	m.flushLosses()
	m.pollAuditLost()
	m.emitStats(true)
	close(m.lines)
	<-writeDone
	if stopping == nil || ctx.Err() != nil {
		return nil
	}
	<-readDone
	if readErr != nil && !errors.Is(readErr, io.EOF) {
		return readErr
	}
	return nil
}

// read reads records until the source fails or is closed, and counts the
// records it could not read (sequence gaps, overwrites) or keep.
func (m *monitor) read(src source, recs chan<- KmsgRecord) error {
	defer close(recs)
	ks, _ := src.(*kmsgSource)
	countSeq := ks != nil && ks.device
	var last uint64
	have := false
	for {
		k, err := src.Next()
		var perr *parseError
		switch {
		case errors.Is(err, errOverwritten):
			continue // the gap shows in the next record's sequence number
		case errors.As(err, &perr):
			m.readParseErrors.Add(1)
			m.warn(err)
			continue
		case errors.Is(err, os.ErrClosed):
			return nil
		case err != nil:
			return err
		}
		if countSeq {
			if have && k.Seq > last+1 {
				m.kmsgLost.Add(k.Seq - last - 1)
			}
			if !have || k.Seq > last {
				last, have = k.Seq, true
			}
		}
		if !relevant(k.Message) {
			continue
		}
		select {
		case recs <- k:
		default:
			m.queueDropped.Add(1)
		}
	}
}

// relevant keeps the records the processor cares about: audit records and
// the kernel's notes about dropping them.
func relevant(msg string) bool {
	return strings.Contains(msg, "audit") || strings.Contains(msg, "callbacks suppressed")
}

func (m *monitor) handle(k KmsgRecord) {
	if loss, ok := ParseLoss(k.Message); ok {
		m.handleLoss(loss, k)
		return
	}
	rec, ok := ParseAudit(k.Message)
	if !ok {
		return
	}
	m.serials.see(rec.Serial, time.Now())
	if rec.Type != AuditTypeSeccomp {
		return
	}
	m.records++
	ev, err := ParseSeccomp(k.Message)
	if err != nil {
		m.parseErrors++
		m.warn(err)
		return
	}
	f := Finding{
		Type: "finding", Time: ev.Time.Format(TimeFormat),
		SyscallNr: ev.Syscall, Arch: ArchName(ev.AuditArch, ev.Syscall),
		Action: ev.Action.Outcome, Seccomp: ev.Action.Seccomp, Signal: ev.Signal,
		Pid: ev.Pid, Comm: ev.Comm, Exe: ev.Exe, Serial: ev.Serial,
	}
	if name, ok := SyscallName(ev.AuditArch, ev.Syscall); ok {
		f.Syscall = name
	} else {
		f.Syscall = "syscall_" + strconv.FormatInt(ev.Syscall, 10)
	}
	if ev.Action.Seccomp == "errno" && ev.Action.Errno != 0 {
		f.Errno = ErrnoName(ev.Action.Errno)
	}
	a := m.attribute(ev)
	c := a.Container
	switch {
	case c == nil && a.Why == "exited":
		// Possibly a container's: say so rather than drop it, within a
		// budget (a host process's burst would flood the file); the stats
		// count them all.
		m.ignored["exited"]++
		if t := time.Now(); t.Sub(m.unattributedWindow) > time.Minute {
			m.unattributedWindow, m.unattributedLines = t, 0
		}
		if m.unattributedLines < unattributedPerMinute {
			m.unattributedLines++
			f.Type = "unattributed"
			m.emit(f)
		}
		return
	case c == nil:
		m.ignored[a.Why]++
		return
	case !c.Secrun() && !m.o.All:
		m.ignored["not_secrun"]++
		return
	}
	f.ContainerID, f.Namespace, f.Pod, f.Container = c.ID, c.Namespace, c.Pod, c.Name
	f.Runtime, f.Policy = c.Runtime, c.Policy
	if ev.Action.Seccomp == "errno" && f.Errno == "" {
		// The kernel logs the action without its errno: take it from the
		// container's profile.
		if e, ok := c.ErrnoFor(f.Syscall); ok {
			f.Errno = ErrnoName(e)
		}
	}
	if ev.Action.Seccomp == "errno" && f.Errno == "ENOSYS" {
		f.Action = "compat"
	}
	m.findings++
	m.emit(f)
}

func (m *monitor) handleLoss(l Loss, k KmsgRecord) {
	switch l.Reason {
	case LostPrintk:
		m.reportLost(l.Count, LostPrintk, k.TsUsec, fmt.Sprintf("%s: %d callbacks suppressed", l.Function, l.Count))
	case LostAudit:
		if !m.auditLostKnown {
			// The count at start is unknown: all of it may be ours.
			m.auditLostKnown = true
			m.reportLost(l.Count, LostAudit, k.TsUsec, fmt.Sprintf("audit_lost=%d since boot (the count at start was unknown)", l.Count))
			m.auditLost = l.Count
			return
		}
		if l.Count > m.auditLost {
			m.reportLost(l.Count-m.auditLost, LostAudit, k.TsUsec, fmt.Sprintf("audit_lost=%d", l.Count))
			m.auditLost = l.Count
		}
	}
}

func (m *monitor) pollAuditLost() {
	if m.auditLostPoll == nil {
		return
	}
	n, err := m.auditLostPoll()
	if err != nil {
		return
	}
	if c := uint64(n); c > m.auditLost {
		m.lost[LostAudit] += c - m.auditLost
		m.emit(Lost{Type: "lost", Time: now(), Count: c - m.auditLost, Reason: LostAudit, Detail: fmt.Sprintf("audit_lost=%d", c)})
		m.auditLost = c
	}
}

func (m *monitor) reportLost(n uint64, reason string, usec uint64, detail string) {
	if n == 0 {
		return
	}
	m.lost[reason] += n
	m.emit(Lost{Type: "lost", Time: m.kmsgTime(usec), Count: n, Reason: reason, Detail: detail})
}

// flushLosses reports what the reader counted since the last call, and
// serials missing for a while.
func (m *monitor) flushLosses() {
	m.serials.expire(time.Now(), 2*time.Second)
	if m.reportGaps && m.serials.lost > m.reportedGap {
		d := m.serials.lost - m.reportedGap
		m.reportedGap = m.serials.lost
		m.lost[LostSerial] += d
		m.emit(Lost{Type: "lost", Time: now(), Count: d, Reason: LostSerial, Detail: "audit events whose records never arrived (the netlink socket buffer overflowed)"})
	}
	if n := m.kmsgLost.Load(); n > m.reportedKmsg {
		d := n - m.reportedKmsg
		m.reportedKmsg = n
		m.lost[LostKmsg] += d
		m.emit(Lost{Type: "lost", Time: now(), Count: d, Reason: LostKmsg, Detail: "kernel log records (of any kind) overwritten before the monitor read them"})
	}
	if n := m.queueDropped.Load(); n > m.reportedQueue {
		d := n - m.reportedQueue
		m.reportedQueue = n
		m.lost[LostQueue] += d
		m.emit(Lost{Type: "lost", Time: now(), Count: d, Reason: LostQueue, Detail: "audit records read but dropped: the monitor's queue was full"})
	}
}

func (m *monitor) emitStats(final bool) {
	s := Stats{
		Type: "stats", Time: now(), Records: m.records, Findings: m.findings,
		Ignored: map[string]uint64{}, Lost: map[string]uint64{},
		SerialGap: m.serials.lost, ParseErrors: m.parseErrors + m.readParseErrors.Load(), WriteErrors: m.writeErrors.Load(), Final: final,
	}
	for k, v := range m.ignored {
		s.Ignored[k] = v
	}
	for k, v := range m.lost {
		s.Lost[k] = v
	}
	m.emit(s)
}

// serialTracker finds audit event serials that never arrived. Records can
// arrive slightly out of order, so a missing serial counts as lost only
// when it is still missing a while later.
type serialTracker struct {
	last    uint64
	missing map[uint64]time.Time
	lost    uint64 // confirmed missing
}

// maxTrackedGap: larger gaps are counted at once, not serial by serial.
const maxTrackedGap = 4096

func (g *serialTracker) see(serial uint64, now time.Time) {
	switch {
	case g.last == 0 || serial+1<<31 < g.last:
		// The first record, or the kernel's counter started over.
		g.last = serial
	case serial > g.last:
		gap := serial - g.last - 1
		if gap > maxTrackedGap || len(g.missing)+int(gap) > 4*maxTrackedGap {
			g.lost += gap
		} else {
			for s := g.last + 1; s < serial; s++ {
				g.missing[s] = now
			}
		}
		g.last = serial
	case serial < g.last:
		delete(g.missing, serial) // late, not lost
	}
}

// expire counts as lost the serials missing for at least after.
func (g *serialTracker) expire(now time.Time, after time.Duration) {
	for s, t := range g.missing {
		if now.Sub(t) >= after {
			delete(g.missing, s)
			g.lost++
		}
	}
}

// procKey names a process for the attribution cache: a pid with the same
// comm and exe within attrCacheTTL is the same process.
type procKey struct {
	pid       int
	comm, exe string
}

type cachedAttribution struct {
	a  Attribution
	at time.Time
}

const attrCacheTTL = 2 * time.Second

// attribute finds the container of a record's process. The answer is kept
// for a moment: a burst from one process is looked up once, and its later
// records are attributed even if the process exits before the monitor
// reads them.
func (m *monitor) attribute(ev SeccompEvent) Attribution {
	k := procKey{ev.Pid, ev.Comm, ev.Exe}
	t := time.Now()
	if c, ok := m.attrCache[k]; ok && t.Sub(c.at) < attrCacheTTL {
		return c.a
	}
	a := m.reg.AttributeAt(ev.Pid, ev.Time)
	if a.Why == "exited" {
		return a
	}
	if len(m.attrCache) >= 4096 {
		for key, c := range m.attrCache {
			if t.Sub(c.at) >= attrCacheTTL {
				delete(m.attrCache, key)
			}
		}
		if len(m.attrCache) >= 4096 {
			clear(m.attrCache)
		}
	}
	m.attrCache[k] = cachedAttribution{a, t}
	return a
}
