package monitor

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

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

// AuditTypeSeccomp is the audit record type of seccomp events (AUDIT_SECCOMP).
const AuditTypeSeccomp = 1326

// AuditRecord is an audit record as the kernel prints it when no audit
// daemon takes it: "audit: type=N audit(SEC.MSEC:SERIAL): key=value ...".
type AuditRecord struct {
	Type   int
	Time   time.Time // the kernel's wall-clock stamp of the event
	Serial uint64    // the audit event serial: one per event, from a global counter
	Fields map[string]string
	// Quoted lists the fields whose value was quoted.
	Quoted map[string]bool
}

var auditHead = regexp.MustCompile(`^(?:audit: )?type=(\d+) audit\((\d+)\.(\d+):(\d+)\):\s?`)

// ParseAudit parses an audit record from a kernel log message. ok is false
// when the message is not an audit record.
func ParseAudit(msg string) (rec AuditRecord, ok bool) {
	m := auditHead.FindStringSubmatch(msg)
	if m == nil {
		return rec, false
	}
	rec.Type, _ = strconv.Atoi(m[1])
	sec, _ := strconv.ParseInt(m[2], 10, 64)
	ms, _ := strconv.ParseInt(m[3], 10, 64)
	rec.Time = time.Unix(sec, ms*int64(time.Millisecond)).UTC()
	rec.Serial, _ = strconv.ParseUint(m[4], 10, 64)
	rec.Fields, rec.Quoted = parseFields(msg[len(m[0]):])
	return rec, true
}

// parseFields splits "k=v k="quoted" k=HEX ..." into a map. Quoted values
// are unquoted; a word without '=' belongs to the value before it (AppArmor
// labels print as `subj=name (enforce)`).
func parseFields(s string) (map[string]string, map[string]bool) {
	out, quoted := map[string]string{}, map[string]bool{}
	last := ""
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		eq := strings.IndexByte(s, '=')
		sp := strings.IndexByte(s, ' ')
		if eq < 0 || (sp >= 0 && sp < eq) {
			// A word with no key: part of the previous value.
			word := s
			if sp >= 0 {
				word, s = s[:sp], s[sp:]
			} else {
				s = ""
			}
			if last != "" {
				out[last] += " " + word
			}
			continue
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				val, s = s[1:], ""
			} else {
				val, s = s[1:end+1], s[end+2:]
			}
			quoted[key] = true
		} else if i := strings.IndexByte(s, ' '); i >= 0 {
			val, s = s[:i], s[i:]
		} else {
			val, s = s, ""
		}
		out[key] = val
		last = key
	}
	return out, quoted
}

// untrusted decodes a value the kernel logged with audit_log_untrustedstring:
// quoted when plain, hex-encoded without quotes when it holds a space, a
// quote, a control character or a byte above 0x7e.
func untrusted(rec AuditRecord, key string) string {
	v, ok := rec.Fields[key]
	if !ok || rec.Quoted[key] {
		return v
	}
	if v == "(null)" || v == "?" || len(v)%2 != 0 {
		return v
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return v
	}
	return string(b)
}

// Seccomp return actions (include/uapi/linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retUserNotif   = 0x7fc00000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
	retActionFull  = 0xffff0000
	retData        = 0x0000ffff
)

// Action is a decoded seccomp return code.
type Action struct {
	// Outcome is "logged" (the call ran, SECCOMP_RET_LOG), "denied" (errno,
	// kill or trap), or "notified", "traced", "allowed" for the rest.
	Outcome string
	// Seccomp names the action: log, errno, kill_process, kill_thread, trap,
	// user_notif, trace, allow.
	Seccomp string
	// Errno is the errno in the code's data bits; the kernel logs the action
	// alone, so this is 0 in the records it prints.
	Errno int
}

// DecodeAction decodes the code= field of a seccomp audit record.
func DecodeAction(code uint32) Action {
	data := int(code & retData)
	switch code & retActionFull {
	case retKillProcess:
		return Action{Outcome: "denied", Seccomp: "kill_process"}
	case retKillThread:
		return Action{Outcome: "denied", Seccomp: "kill_thread"}
	case retTrap:
		return Action{Outcome: "denied", Seccomp: "trap"}
	case retErrno:
		return Action{Outcome: "denied", Seccomp: "errno", Errno: data}
	case retUserNotif:
		return Action{Outcome: "notified", Seccomp: "user_notif"}
	case retTrace:
		return Action{Outcome: "traced", Seccomp: "trace"}
	case retLog:
		return Action{Outcome: "logged", Seccomp: "log"}
	case retAllow:
		return Action{Outcome: "allowed", Seccomp: "allow"}
	}
	return Action{Outcome: "denied", Seccomp: fmt.Sprintf("unknown(%#x)", code)}
}

// ErrnoName returns "EPERM" for 1, or the number when the name is unknown.
func ErrnoName(n int) string {
	if name := unix.ErrnoName(syscall.Errno(n)); name != "" {
		return name
	}
	return strconv.Itoa(n)
}

// SeccompEvent is a parsed type=1326 record.
type SeccompEvent struct {
	Time      time.Time
	Serial    uint64
	Pid       int
	Comm, Exe string
	AuditArch uint32 // AUDIT_ARCH_* value
	Syscall   int64
	Compat    bool
	Signal    int
	Code      uint32
	Action    Action
}

// ParseSeccomp parses the message of a seccomp audit record.
func ParseSeccomp(msg string) (SeccompEvent, error) {
	var ev SeccompEvent
	rec, ok := ParseAudit(msg)
	if !ok || rec.Type != AuditTypeSeccomp {
		return ev, errors.New("not a seccomp audit record (type=1326)")
	}
	ev.Time, ev.Serial = rec.Time, rec.Serial
	f := rec.Fields
	var err error
	need := func(key string, base, bits int) uint64 {
		if err != nil {
			return 0
		}
		v, ok := f[key]
		if !ok {
			err = fmt.Errorf("seccomp record without %s=: %.200q", key, msg)
			return 0
		}
		n, perr := strconv.ParseUint(strings.TrimPrefix(v, "0x"), base, bits)
		if perr != nil {
			err = fmt.Errorf("seccomp record: %s=%q: %v", key, v, perr)
		}
		return n
	}
	ev.Pid = int(need("pid", 10, 32))
	ev.AuditArch = uint32(need("arch", 16, 32))
	ev.Syscall = int64(need("syscall", 10, 63))
	ev.Code = uint32(need("code", 16, 32))
	if err != nil {
		return ev, err
	}
	if s, e := strconv.Atoi(f["sig"]); e == nil {
		ev.Signal = s
	}
	ev.Compat = f["compat"] == "1"
	ev.Comm = untrusted(rec, "comm")
	ev.Exe = untrusted(rec, "exe")
	ev.Action = DecodeAction(ev.Code)
	return ev, nil
}

// Loss is what a kernel log line says about audit records that never
// reached the log.
type Loss struct {
	// Reason is "printk_ratelimit" (printk dropped records: "F: N callbacks
	// suppressed") or "audit_lost" (the audit subsystem's own lost counter,
	// cumulative since boot: "audit: audit_lost=N ...").
	Reason string
	Count  uint64
	// Cumulative is true when Count is a running total since boot.
	Cumulative bool
	Function   string
}

var (
	suppressedRe = regexp.MustCompile(`^([A-Za-z0-9_.]+): (\d+) callbacks suppressed`)
	auditLostRe  = regexp.MustCompile(`^audit: audit_lost=(\d+) `)
)

// ParseLoss recognises the kernel lines that report dropped audit records.
// Suppression lines of functions unrelated to audit are not losses of
// seccomp records and are not reported.
func ParseLoss(msg string) (Loss, bool) {
	if m := suppressedRe.FindStringSubmatch(msg); m != nil {
		fn := m[1]
		if !strings.Contains(fn, "audit") {
			return Loss{}, false
		}
		n, _ := strconv.ParseUint(m[2], 10, 64)
		return Loss{Reason: "printk_ratelimit", Count: n, Function: fn}, true
	}
	if m := auditLostRe.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		return Loss{Reason: "audit_lost", Count: n, Cumulative: true}, true
	}
	return Loss{}, false
}
