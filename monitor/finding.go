package monitor

import (
	"strconv"
	"time"
)

// unattributedPerMinute caps the "unattributed" lines written a minute.
const unattributedPerMinute = 100

// handle turns one record into lines: a finding, a loss, or a count.
func (m *monitor) handle(r record) {
	typ, body := r.auditType, r.auditBody
	if typ == 0 {
		if loss, ok := ParseLoss(r.kmsg.Message); ok {
			m.handleLoss(loss, r.kmsg)
			return
		}
		var ok bool
		if typ, body, ok = kmsgAudit(r.kmsg.Message); !ok {
			return
		}
	}
	msg, err := parseAudit(typ, body)
	if err != nil {
		m.parseErrors++
		m.warn(err)
		return
	}
	m.serials.see(uint64(msg.Sequence), time.Now())
	if typ != AuditTypeSeccomp {
		return
	}
	m.records++
	ev, err := seccompEvent(msg, m.syscalls)
	if err != nil {
		m.parseErrors++
		m.warn(err)
		return
	}
	m.report(ev)
}

// newFinding is what the record itself says.
func (m *monitor) newFinding(ev SeccompEvent) Finding {
	f := Finding{
		Type: "finding", Time: ev.Time.Format(TimeFormat),
		SyscallNr: ev.Syscall, Arch: ArchName(ev.AuditArch, ev.Syscall),
		Action: ev.Action.Outcome, Seccomp: ev.Action.Seccomp, Signal: ev.Signal,
		Pid: ev.Pid, Comm: ev.Comm, Exe: ev.Exe, Serial: ev.Serial,
	}
	if name, ok := m.syscalls.Name(ev.AuditArch, ev.Syscall); ok {
		f.Syscall = name
	} else {
		f.Syscall = "syscall_" + strconv.FormatInt(ev.Syscall, 10)
	}
	if ev.Action.Seccomp == "errno" && ev.Action.Errno != 0 {
		f.Errno = ErrnoName(ev.Action.Errno)
	}
	return f
}

// report writes the finding of a container's record, or counts why not.
func (m *monitor) report(ev SeccompEvent) {
	f := m.newFinding(ev)
	a := m.attrs.attribute(m.reg, ev)
	c := a.Container
	switch {
	case c == nil && a.Why == "exited":
		m.ignored["exited"]++
		m.reportUnattributed(f)
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

// reportUnattributed writes the record of a process that exited before it
// could be attributed: possibly a container's, so said rather than
// dropped, within a budget (a host process's burst would flood the file);
// the stats count them all.
func (m *monitor) reportUnattributed(f Finding) {
	if t := time.Now(); t.Sub(m.unattributedWindow) > time.Minute {
		m.unattributedWindow, m.unattributedLines = t, 0
	}
	if m.unattributedLines < unattributedPerMinute {
		m.unattributedLines++
		f.Type = "unattributed"
		m.emit(f)
	}
}
