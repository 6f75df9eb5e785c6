package monitor

import (
	"testing"
	"time"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// Lines as this kernel (6.18, no auditd) writes them to /dev/kmsg, and
// variants other kernels and LSMs produce.
const (
	kmsgLogged = `5,342,2496690240,-;audit: type=1326 audit(1795773997.691:2): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=9166 comm="probe" exe="/bin/probe" sig=0 arch=c000003e syscall=250 compat=0 ip=0x7f7587e16829 code=0x7ffc0000`
	kmsgErrno  = `5,343,2496693331,-;audit: type=1326 audit(1795773997.695:3): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=9168 comm="t" exe="/tmp/mexp/t" sig=0 arch=c000003e syscall=272 compat=0 ip=0x7f70d0b0d829 code=0x50000`
	// comm and exe with a space are hex-encoded, unquoted.
	kmsgHex = `5,900,3000000000,-;audit: type=1326 audit(1795774000.331:11): auid=1000 uid=1000 gid=1000 ses=3 pid=4242 comm=6D7920617070 exe=2F6F70742F6D79206170702F62696E2F617070 sig=0 arch=c000003e syscall=101 compat=0 ip=0x7fcfd7607829 code=0x50001`
	// An AppArmor label prints with its mode after a space.
	kmsgAppArmor = `5,901,3000000001,-;audit: type=1326 audit(1795774000.332:12): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=cri-containerd.apparmor.d (enforce) pid=77 comm="sh" exe="/bin/busybox" sig=31 arch=c000003e syscall=165 compat=0 ip=0x4a0b1c code=0x80000000`
	// A 32-bit process on a 64-bit kernel.
	kmsgCompat = `5,902,3000000002,-;audit: type=1326 audit(1795774000.333:13): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=78 comm="old" exe="/bin/old" sig=0 arch=40000003 syscall=288 compat=1 ip=0xf7f1c549 code=0x7ffc0000`
)

func TestParseSeccomp(t *testing.T) {
	cases := []struct {
		line               string
		seq                uint64
		pid                int
		comm, exe          string
		syscall, arch      string
		nr                 int64
		outcome, act       string
		signal             int
		serial             uint64
		compat             bool
		wantTime           string
		kmsgUsec, kmsgPrio uint64
	}{
		{line: kmsgLogged, seq: 342, pid: 9166, comm: "probe", exe: "/bin/probe", syscall: "keyctl", arch: "SCMP_ARCH_X86_64", nr: 250,
			outcome: "logged", act: "log", serial: 2, wantTime: "2026-11-27T10:06:37.691Z", kmsgUsec: 2496690240, kmsgPrio: 5},
		{line: kmsgErrno, seq: 343, pid: 9168, comm: "t", exe: "/tmp/mexp/t", syscall: "unshare", arch: "SCMP_ARCH_X86_64", nr: 272,
			outcome: "denied", act: "errno", serial: 3},
		{line: kmsgHex, seq: 900, pid: 4242, comm: "my app", exe: "/opt/my app/bin/app", syscall: "ptrace", arch: "SCMP_ARCH_X86_64", nr: 101,
			outcome: "denied", act: "errno", serial: 11},
		{line: kmsgAppArmor, seq: 901, pid: 77, comm: "sh", exe: "/bin/busybox", syscall: "mount", arch: "SCMP_ARCH_X86_64", nr: 165,
			outcome: "denied", act: "kill_process", signal: 31, serial: 12},
		{line: kmsgCompat, seq: 902, pid: 78, comm: "old", exe: "/bin/old", syscall: "keyctl", arch: "SCMP_ARCH_X86", nr: 288,
			outcome: "logged", act: "log", serial: 13, compat: true},
	}
	for _, c := range cases {
		k, err := ParseKmsg(c.line)
		if err != nil {
			t.Fatalf("%s: %v", c.line, err)
		}
		if k.Seq != c.seq {
			t.Errorf("seq = %d, want %d", k.Seq, c.seq)
		}
		if c.kmsgUsec != 0 && (k.TsUsec != c.kmsgUsec || uint64(k.Priority) != c.kmsgPrio) {
			t.Errorf("header = %+v", k)
		}
		ev, err := parseSeccomp(k.Message)
		if err != nil {
			t.Fatalf("%s: %v", c.line, err)
		}
		name, _ := newSyscallTable().Name(ev.AuditArch, ev.Syscall)
		got := []any{ev.Pid, ev.Comm, ev.Exe, name, ArchName(ev.AuditArch, ev.Syscall), ev.Syscall, ev.Action.Outcome, ev.Action.Seccomp, ev.Signal, ev.Serial, ev.Compat}
		want := []any{c.pid, c.comm, c.exe, c.syscall, c.arch, c.nr, c.outcome, c.act, c.signal, c.serial, c.compat}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s:\n field %d = %v, want %v", c.line, i, got[i], want[i])
			}
		}
		if c.wantTime != "" && ev.Time.Format(TimeFormat) != c.wantTime {
			t.Errorf("time = %s, want %s", ev.Time.Format(TimeFormat), c.wantTime)
		}
	}
}

func TestDecodeAction(t *testing.T) {
	cases := map[uint32]Action{
		0x7ffc0000: {Outcome: "logged", Seccomp: "log"},
		0x00050000: {Outcome: "denied", Seccomp: "errno"},
		0x00050026: {Outcome: "denied", Seccomp: "errno", Errno: 38},
		0x80000000: {Outcome: "denied", Seccomp: "kill_process"},
		0x00000000: {Outcome: "denied", Seccomp: "kill_thread"},
		0x00030000: {Outcome: "denied", Seccomp: "trap"},
		0x7fc00000: {Outcome: "notified", Seccomp: "user_notif"},
		0x7ff00000: {Outcome: "traced", Seccomp: "trace"},
		0x7fff0000: {Outcome: "allowed", Seccomp: "allow"},
	}
	for code, want := range cases {
		if got := DecodeAction(code); got != want {
			t.Errorf("DecodeAction(%#x) = %+v, want %+v", code, got, want)
		}
	}
	if got := DecodeAction(0x12340000); got.Outcome != "denied" {
		t.Errorf("unknown action = %+v", got)
	}
	if ErrnoName(1) != "EPERM" || ErrnoName(38) != "ENOSYS" || ErrnoName(4000) != "4000" {
		t.Error("ErrnoName")
	}
}

// parseSeccomp parses a kernel log message as the monitor does.
func parseSeccomp(msg string) (SeccompEvent, error) {
	m, err := ParseAudit(msg)
	if err != nil {
		return SeccompEvent{}, err
	}
	return seccompEvent(m, newSyscallTable())
}

func TestParseAuditFields(t *testing.T) {
	ev, err := parseSeccomp(`audit: type=1326 audit(1700000000.005:99): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=cri-containerd.apparmor.d (enforce) pid=1 comm="a b" exe=(null) sig=0 arch=c000003e syscall=0 compat=0 ip=0x0 code=0x7ffc0000`)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Serial != 99 || ev.Time != time.Unix(1700000000, 5e6).UTC() || ev.Syscall != 0 || ev.Pid != 1 {
		t.Errorf("event = %+v", ev)
	}
	// exe=(null): a task without an executable (auparse alone refuses the record).
	if ev.Exe != "(null)" {
		t.Errorf("exe = %q", ev.Exe)
	}
	if ev.Comm != "a b" {
		t.Errorf("comm = %q", ev.Comm)
	}
	if _, err := ParseAudit("EXT4-fs (vda): mounted filesystem"); err != errNotAudit {
		t.Errorf("a non-audit line: %v", err)
	}
	if _, err := parseSeccomp(`audit: type=1326 audit(1700000000.005:99): pid=1 comm="x" arch=c000003e code=0x7ffc0000`); err == nil {
		t.Error("a record without syscall= parsed")
	}
	if _, err := parseSeccomp(`audit: type=1400 audit(1700000000.005:99): apparmor="DENIED"`); err == nil {
		t.Error("an AppArmor record parsed as seccomp")
	}
}

// The netlink socket carries the record without the kernel log's
// "audit: type=N " prefix; the type comes in the netlink header.
func TestParseNetlinkText(t *testing.T) {
	body := `audit(1795773997.691:2): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=9166 comm="probe" exe="/bin/probe" sig=0 arch=c000003e syscall=250 compat=0 ip=0x7f7587e16829 code=0x7ffc0000`
	m, err := parseAudit(AuditTypeSeccomp, body)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := seccompEvent(m, newSyscallTable())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Pid != 9166 || ev.Syscall != 250 || ev.AuditArch != 0xc000003e || ev.Serial != 2 || ev.Action.Outcome != "logged" || ev.Exe != "/bin/probe" {
		t.Errorf("event = %+v", ev)
	}
}

// Records the monitor must not take apart wrongly: each fails with an
// error naming the field (the monitor counts it as a parse error), or
// parses to what the kernel meant.
func TestParseSeccompMalformed(t *testing.T) {
	const head = `audit: type=1326 audit(1795774000.331:11): `
	const tail = ` compat=0 ip=0x7f code=0x50000`
	bad := map[string]string{
		"truncated":       head + `auid=0 uid=0 gid=0 ses=1 pid=42 comm="x"`,
		"no fields":       head,
		"pid not numeric": head + `pid=4x2 comm="x" exe="/x" sig=0 arch=c000003e syscall=1` + tail,
		"pid negative":    head + `pid=-1 comm="x" exe="/x" sig=0 arch=c000003e syscall=1` + tail,
		"arch not hex":    head + `pid=42 comm="x" exe="/x" sig=0 arch=zz syscall=1` + tail,
		"syscall garbage": head + `pid=42 comm="x" exe="/x" sig=0 arch=c000003e syscall=open` + tail,
		"code garbage":    head + `pid=42 comm="x" exe="/x" sig=0 arch=c000003e syscall=1 compat=0 ip=0x7f code=0xzz`,
		"no code":         head + `pid=42 comm="x" exe="/x" sig=0 arch=c000003e syscall=1 compat=0`,
		"no sig":          head + `pid=42 comm="x" exe="/x" arch=c000003e syscall=1` + tail,
	}
	for name, msg := range bad {
		if ev, err := parseSeccomp(msg); err == nil {
			t.Errorf("%s: parsed to %+v", name, ev)
		}
	}
	for name, msg := range map[string]string{
		"header without serial": `audit: type=1326 audit(1795774000.331): pid=42`,
		"header not numeric":    `audit: type=1326 audit(17957x4000.331:11): pid=42`,
	} {
		if _, err := ParseAudit(msg); err == nil || err == errNotAudit {
			t.Errorf("%s: error %v, want a parse error", name, err)
		}
	}
	// Not audit records at all: skipped, not errors.
	for _, msg := range []string{"audit: backlog limit exceeded", "type=1326 without a header", "audit: type=x audit(1.2:3): a=b"} {
		if _, err := ParseAudit(msg); err != errNotAudit {
			t.Errorf("%q: %v, want errNotAudit", msg, err)
		}
	}
}

// An unknown architecture or syscall number comes through as a number.
func TestParseSeccompUnknown(t *testing.T) {
	ev, err := parseSeccomp(`audit: type=1326 audit(1795774000.331:11): pid=42 comm="x" exe="/x" sig=0 arch=c00000f3 syscall=99999 compat=0 ip=0x7f code=0x7ffc0000`)
	if err != nil {
		t.Fatal(err)
	}
	if ev.AuditArch != 0xc00000f3 || ev.Syscall != 99999 || ArchName(ev.AuditArch, ev.Syscall) != "SCMP_ARCH_RISCV64" {
		t.Errorf("event = %+v", ev)
	}
	// x32: AUDIT_ARCH_X86_64 with the x32 bit in the number.
	ev, err = parseSeccomp(`audit: type=1326 audit(1795774000.331:11): pid=42 comm="x" exe="/x" sig=0 arch=c000003e syscall=1073742074 compat=0 ip=0x7f code=0x7ffc0000`)
	if err != nil || ev.Syscall != x32Bit+250 {
		t.Errorf("x32: %+v %v", ev, err)
	}
}

// comm is hex-encoded only when unquoted: a quoted name that looks like
// hex is a name.
func TestParseComm(t *testing.T) {
	for raw, want := range map[string]string{
		`comm="CAFE" exe="/x"`:                      "CAFE",
		`comm=CAFE exe="/x"`:                        "\xca\xfe",
		`comm=6D7920617070 exe=2F` + `6D7920617070`: "my app",
		`comm="it's" exe="/x"`:                      "it's",
		`comm=ABC exe="/x"`:                         "ABC", // odd length: not hex
	} {
		ev, err := parseSeccomp(`audit: type=1326 audit(1795774000.331:11): auid=0 uid=0 gid=0 ses=1 subj=x comm="fake" pid=42 ` + raw + ` sig=31 arch=c000003e syscall=1 compat=0 ip=0x7f code=0x0`)
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if ev.Comm != want || ev.Signal != 31 {
			t.Errorf("%s: comm %q signal %d, want %q 31", raw, ev.Comm, ev.Signal, want)
		}
	}
}

// The syscall numbers come back from auparse's names: that needs each of
// its tables to name every number differently.
func TestSyscallNumbersFromNames(t *testing.T) {
	names := newSyscallTable()
	for arch, table := range auparse.AuditSyscalls {
		for nr, name := range table {
			if got, err := names.number(arch, name); err != nil || got != int64(nr) {
				t.Errorf("%s: %s = %d (%v), want %d", arch, name, got, err, nr)
			}
		}
	}
	if n, err := names.number("x86_64", "12345"); err != nil || n != 12345 {
		t.Errorf("a number: %d %v", n, err)
	}
}

// comm and exe exactly as the process named them, quoted or hex-encoded.
func TestParseUntrusted(t *testing.T) {
	for raw, want := range map[string][2]string{
		`comm="x'" exe="/tmp/it's'"`:     {"x'", "/tmp/it's'"}, // auparse would trim the trailing quotes
		`comm="'" exe="/a"`:              {"'", "/a"},
		`comm=2220 exe=2F61202262222022`: {`" `, `/a "b" "`},
		`comm="" exe=(null)`:             {"", "(null)"},
		`comm="exe=(null)" exe="/b"`:     {"exe=(null)", "/b"},
	} {
		ev, err := parseSeccomp(`audit: type=1326 audit(1795774000.331:11): auid=0 uid=0 gid=0 ses=1 pid=42 ` + raw + ` sig=0 arch=c000003e syscall=1 compat=0 ip=0x7f code=0x0`)
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if ev.Comm != want[0] || ev.Exe != want[1] {
			t.Errorf("%s: comm %q exe %q, want %q %q", raw, ev.Comm, ev.Exe, want[0], want[1])
		}
	}
}
