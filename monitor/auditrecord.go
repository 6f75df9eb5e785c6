package monitor

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/elastic/go-libaudit/v2/auparse"
	"golang.org/x/sys/unix"
)

// Audit records are parsed with go-libaudit's auparse: the header
// ("audit(SEC.MSEC:SERIAL):") and the key=value fields, with arch, syscall
// and sig turned into names. This file adds what the kernel log needs (its
// "audit: type=N" prefix) and what auparse gets wrong or leaves out for
// seccomp records: the numbers behind the names, exe=(null), and the
// untrusted strings comm and exe.

// AuditTypeSeccomp is the audit record type of seccomp events (AUDIT_SECCOMP, 1326).
const AuditTypeSeccomp = auparse.AUDIT_SECCOMP

// errNotAudit: a kernel log message that is not an audit record.
var errNotAudit = errors.New("not an audit record")

// ParseAudit parses an audit record as the kernel logs it when no audit
// daemon takes it: "audit: type=N audit(SEC.MSEC:SERIAL): key=value ...".
// The error is errNotAudit when the message is not an audit record.
func ParseAudit(msg string) (*auparse.AuditMessage, error) {
	typ, body, ok := kmsgAudit(msg)
	if !ok {
		return nil, errNotAudit
	}
	return parseAudit(typ, body)
}

// kmsgAudit splits the kernel log's rendering of an audit record into the
// record type and the text the netlink socket carries. auparse reads the
// latter, or auditd's log lines ("type=NAME msg=audit(...)"), not the former.
func kmsgAudit(msg string) (auparse.AuditMessageType, string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimPrefix(msg, "audit: "), "type=")
	if !ok {
		return 0, "", false
	}
	num, body, _ := strings.Cut(rest, " ")
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || !strings.HasPrefix(body, "audit(") {
		return 0, "", false
	}
	return auparse.AuditMessageType(n), body, true
}

// nullExe stands for exe=(null), the kernel's exe of a task without an
// executable: auparse drops a "(null)" value, then refuses a seccomp record
// without exe. The kernel writes exe as a quoted path, uppercase hex or
// (null), so an unquoted lowercase word cannot be a real one.
const nullExe = "null"

// parseAudit parses an audit record's text (header and fields) with auparse.
func parseAudit(typ auparse.AuditMessageType, body string) (*auparse.AuditMessage, error) {
	if typ == AuditTypeSeccomp {
		if i := strings.LastIndex(body, " exe=(null) "); i >= 0 {
			body = body[:i] + " exe=" + nullExe + body[i+len(" exe=(null)"):]
		}
	}
	m, err := auparse.Parse(typ, body)
	if err != nil {
		return nil, fmt.Errorf("audit record %.200q: %w", body, err)
	}
	return m, nil
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

// seccompEvent reads a seccomp record's fields. The syscall table turns
// auparse's names back into the numbers the record carried.
func seccompEvent(m *auparse.AuditMessage, t *syscallTable) (SeccompEvent, error) {
	ev := SeccompEvent{Time: m.Timestamp, Serial: uint64(m.Sequence)}
	if m.RecordType != AuditTypeSeccomp {
		return ev, fmt.Errorf("not a seccomp audit record (type=%d)", m.RecordType)
	}
	d, err := m.Data()
	if err != nil {
		return ev, fmt.Errorf("seccomp record %.200q: %w", m.RawData, err)
	}
	bad := func(key string, err error) error {
		return fmt.Errorf("seccomp record %.200q: %s=%q: %v", m.RawData, key, d[key], err)
	}
	pid, err := strconv.ParseUint(d["pid"], 10, 32)
	if err != nil {
		return ev, bad("pid", err)
	}
	ev.Pid = int(pid)
	if ev.AuditArch, err = archNumber(d["arch"]); err != nil {
		return ev, bad("arch", err)
	}
	if ev.Syscall, err = t.number(d["arch"], d["syscall"]); err != nil {
		return ev, bad("syscall", err)
	}
	code, err := strconv.ParseUint(strings.TrimPrefix(d["code"], "0x"), 16, 32)
	if err != nil {
		return ev, bad("code", err)
	}
	ev.Code, ev.Action = uint32(code), DecodeAction(uint32(code))
	ev.Signal = signalNumber(d["sig"])
	ev.Compat = d["compat"] == "1"
	ev.Comm = untrusted(m.RawData, "comm")
	if ev.Exe = untrusted(m.RawData, "exe"); ev.Exe == nullExe {
		ev.Exe = "(null)"
	}
	return ev, nil
}

// archNumber undoes auparse's naming of an AUDIT_ARCH_* value ("x86_64",
// or "unknown[c00000f3]" for one it does not know).
func archNumber(name string) (uint32, error) {
	for a, n := range auparse.AuditArchNames {
		if n == name {
			return uint32(a), nil
		}
	}
	if hexa, ok := strings.CutPrefix(name, "unknown["); ok {
		n, err := strconv.ParseUint(strings.TrimSuffix(hexa, "]"), 16, 32)
		return uint32(n), err
	}
	return 0, errors.New("unknown architecture")
}

// signalNumber undoes auparse's naming of sig= ("SIGSYS"); 0 when absent.
func signalNumber(s string) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return int(unix.SignalNum(s))
}

// untrusted reads a field the kernel wrote with audit_log_untrustedstring
// (comm, exe) from the record's text: quoted, or hex-encoded without
// quotes when it holds a space, a double quote, a control character or a
// byte above 0x7e. auparse is not used for these: it trims quotes and
// spaces (a single quote too) off both ends of a quoted value, and
// decodes a hex exe but not a hex comm. The field is found by its last
// occurrence: only the LSM label (subj) before comm can hold free text,
// and no value after comm can contain " comm=" or " exe=".
func untrusted(raw, key string) string {
	i := strings.LastIndex(raw, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := raw[i+len(key)+2:]
	if q, ok := strings.CutPrefix(v, `"`); ok {
		if end := strings.IndexByte(q, '"'); end >= 0 {
			return q[:end]
		}
		return q
	}
	v, _, _ = strings.Cut(v, " ")
	if b, err := hex.DecodeString(v); err == nil && v != "" {
		return string(b)
	}
	return v
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
