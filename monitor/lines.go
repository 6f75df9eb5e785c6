package monitor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"time"
)

// The JSON lines `secrun monitor` writes, one object per line, told apart
// by "type"; `secrun findings summarize` reads them back (findings.go).

// TimeFormat is how every line's time is written (RFC 3339, UTC, ms).
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

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

func now() string { return time.Now().UTC().Format(TimeFormat) }

// emit queues a line for the writer.
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

// writeLines writes the queued lines until the queue is closed; a failed
// write is counted and the line dropped.
func (m *monitor) writeLines(out io.Writer) {
	for line := range m.lines {
		if _, err := out.Write(line); err != nil {
			m.writeErrors.Add(1)
			m.warn(fmt.Errorf("writing findings: %w", err))
		}
	}
}

func (m *monitor) emitStats(final bool) {
	m.emit(Stats{
		Type: "stats", Time: now(), Records: m.records, Findings: m.findings,
		Ignored: maps.Clone(m.ignored), Lost: maps.Clone(m.lost), SerialGap: m.serials.lost,
		ParseErrors: m.parseErrors + m.readParseErrors.Load(), WriteErrors: m.writeErrors.Load(), Final: final,
	})
}
