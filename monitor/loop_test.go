package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// listSource replays records as the audit source delivers them, then ends.
type listSource struct{ recs []record }

func (s *listSource) Next() (record, error) {
	if len(s.recs) == 0 {
		return record{}, os.ErrClosed
	}
	r := s.recs[0]
	s.recs = s.recs[1:]
	return r, nil
}
func (s *listSource) Close() error { return nil }
func (s *listSource) Kind() string { return "audit" }

// TestPipelineAudit feeds records from the netlink socket, real ones and
// malformed ones, through the monitor: a malformed record is counted and
// skipped, and the records after it are still read.
func TestPipelineAudit(t *testing.T) {
	r, _, _, _ := fixture(t)
	seccomp := func(serial, pid, nr int) record {
		return record{auditType: AuditTypeSeccomp, auditBody: fmt.Sprintf(`audit(1795773997.100:%d): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=%d comm="probe" exe="/bin/probe" sig=0 arch=c000003e syscall=%d compat=0 ip=0x7f code=0x7ffc0000`, serial, pid, nr)}
	}
	recs := []record{
		seccomp(10, 100, 250), // web: keyctl
		{auditType: 1300, auditBody: `audit(1795773997.100:11): arch=c000003e syscall=59 success=yes exit=0 pid=5 comm="sh" exe="/bin/sh"`}, // another event's record
		{auditType: AuditTypeSeccomp, auditBody: `audit(1795773997.100:12): pid=100 comm="probe" arch=c000003e`},                            // fields missing
		{auditType: AuditTypeSeccomp, auditBody: `audit(1795773997.100:13): pid=100 comm="probe" exe="/bin/probe" sig=0 arch=zz syscall=1 code=0x0`},
		{auditType: AuditTypeSeccomp, auditBody: `audit(garbage): pid=100`}, // no header: no serial either
		{auditType: AuditTypeSeccomp, auditBody: ``},
		seccomp(16, 101, 272), // web: unshare; serials 14 and 15 never arrived
	}
	var errb, out bytes.Buffer
	m := newMonitor(Options{Roots: r.Roots}, r, &errb)
	m.auditLostPoll = func() (uint32, error) { return 0, nil }
	if err := m.run(context.Background(), &listSource{recs}, &out); err != nil {
		t.Fatal(err)
	}
	var got []string
	var stats Stats
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var f Finding
		json.Unmarshal([]byte(l), &f)
		switch f.Type {
		case "finding":
			got = append(got, fmt.Sprintf("%s %s %d %d", f.ContainerID, f.Syscall, f.Pid, f.Serial))
		case "stats":
			json.Unmarshal([]byte(l), &stats)
		}
	}
	if want := "web keyctl 100 10\nweb unshare 101 16"; strings.Join(got, "\n") != want {
		t.Errorf("findings:\n%s\nwant:\n%s\nout:\n%s", strings.Join(got, "\n"), want, out.String())
	}
	// Records: 10, 12, 13, 16 (the header-less ones are not known to be
	// seccomp's). Parse errors: 12, 13, and the two without a header.
	if !stats.Final || stats.Records != 4 || stats.Findings != 2 || stats.ParseErrors != 4 || stats.SerialGap != 2 {
		t.Errorf("stats: %+v\nout:\n%s", stats, out.String())
	}
	if !strings.Contains(errb.String(), "seccomp record") {
		t.Errorf("no warning about the malformed record: %q", errb.String())
	}
}
