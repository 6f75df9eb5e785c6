package monitor

import (
	"testing"
	"time"
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
		ev, err := ParseSeccomp(k.Message)
		if err != nil {
			t.Fatalf("%s: %v", c.line, err)
		}
		name, _ := SyscallName(ev.AuditArch, ev.Syscall)
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

func TestParseAuditFields(t *testing.T) {
	rec, ok := ParseAudit(`audit: type=1326 audit(1700000000.005:99): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=cri-containerd.apparmor.d (enforce) pid=1 comm="a b" exe=(null) sig=0 arch=c000003e syscall=0 compat=0 ip=0x0 code=0x7ffc0000`)
	if !ok {
		t.Fatal("not parsed")
	}
	if rec.Serial != 99 || rec.Time != time.Unix(1700000000, 5e6).UTC() || rec.Type != 1326 {
		t.Errorf("head = %+v", rec)
	}
	if got := rec.Fields["subj"]; got != "cri-containerd.apparmor.d (enforce)" {
		t.Errorf("subj = %q", got)
	}
	if got := untrusted(rec, "exe"); got != "(null)" {
		t.Errorf("exe = %q", got)
	}
	if got := untrusted(rec, "comm"); got != "a b" {
		t.Errorf("comm = %q", got)
	}
	if _, ok := ParseAudit("EXT4-fs (vda): mounted filesystem"); ok {
		t.Error("a non-audit line parsed as audit")
	}
	if _, err := ParseSeccomp(`audit: type=1326 audit(1700000000.005:99): pid=1 comm="x" arch=c000003e code=0x7ffc0000`); err == nil {
		t.Error("a record without syscall= parsed")
	}
	if _, err := ParseSeccomp(`audit: type=1400 audit(1700000000.005:99): apparmor="DENIED"`); err == nil {
		t.Error("an AppArmor record parsed as seccomp")
	}
}

func TestParseKmsg(t *testing.T) {
	// A record with dictionary lines and escapes, as read() returns it.
	k, err := ParseKmsg("6,191,191442,-,caller=T1;acpi PNP0A08:00: tab\\x09here \\x5c done\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A08:00\n")
	if err != nil {
		t.Fatal(err)
	}
	if k.Seq != 191 || k.TsUsec != 191442 || k.Priority != 6 || k.Message != "acpi PNP0A08:00: tab\there \\ done" {
		t.Errorf("got %+v", k)
	}
	for _, bad := range []string{"no header", "6,1;short", "x,1,2,-;msg"} {
		if _, err := ParseKmsg(bad); err == nil {
			t.Errorf("%q parsed", bad)
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

func TestParseLoss(t *testing.T) {
	cases := []struct {
		msg  string
		ok   bool
		want Loss
	}{
		{"kauditd_printk_skb: 4990 callbacks suppressed", true, Loss{Reason: LostPrintk, Count: 4990, Function: "kauditd_printk_skb"}},
		{"audit_log_lost: 12 callbacks suppressed", true, Loss{Reason: LostPrintk, Count: 12, Function: "audit_log_lost"}},
		{"audit: audit_lost=7 audit_rate_limit=0 audit_backlog_limit=64", true, Loss{Reason: LostAudit, Count: 7, Cumulative: true}},
		{"net_ratelimit: 3 callbacks suppressed", false, Loss{}},
		{"audit: backlog limit exceeded", false, Loss{}},
	}
	for _, c := range cases {
		got, ok := ParseLoss(c.msg)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseLoss(%q) = %+v %v, want %+v %v", c.msg, got, ok, c.want, c.ok)
		}
	}
}

func TestArchNames(t *testing.T) {
	cases := []struct {
		arch     uint32
		nr       int64
		oci, sys string
	}{
		{0xc000003e, 250, "SCMP_ARCH_X86_64", "keyctl"},
		{0xc000003e, x32Bit + 250, "SCMP_ARCH_X32", "keyctl"},
		{0x40000003, 288, "SCMP_ARCH_X86", "keyctl"},
		{0xc00000b7, 219, "SCMP_ARCH_AARCH64", "keyctl"},
		{0x40000028, 311, "SCMP_ARCH_ARM", "keyctl"},
		{0x80000016, 280, "SCMP_ARCH_S390X", "keyctl"},
	}
	for _, c := range cases {
		if got := ArchName(c.arch, c.nr); got != c.oci {
			t.Errorf("ArchName(%#x, %d) = %s, want %s", c.arch, c.nr, got, c.oci)
		}
		if got, ok := SyscallName(c.arch, c.nr); !ok || got != c.sys {
			t.Errorf("SyscallName(%#x, %d) = %q %v, want %s", c.arch, c.nr, got, ok, c.sys)
		}
	}
	if _, ok := SyscallName(0xc000003e, 99999); ok {
		t.Error("syscall 99999 named")
	}
	if got := ArchName(0x1234, 1); got != "audit_arch_0x1234" {
		t.Errorf("unknown arch = %s", got)
	}
}

func TestSerialTracker(t *testing.T) {
	g := serialTracker{missing: map[uint64]time.Time{}}
	t0 := time.Now()
	for _, s := range []uint64{100, 101, 101, 104, 103} { // 102 missing, 103 late
		g.see(s, t0)
	}
	g.expire(t0.Add(time.Second), 2*time.Second)
	if g.lost != 0 || len(g.missing) != 1 {
		t.Errorf("before the grace period: lost %d, missing %v", g.lost, g.missing)
	}
	g.expire(t0.Add(3*time.Second), 2*time.Second)
	if g.lost != 1 {
		t.Errorf("lost = %d, want 1 (serial 102)", g.lost)
	}
	g.see(104+maxTrackedGap+11, t0) // a large gap counts at once
	if g.lost != 1+maxTrackedGap+10 || len(g.missing) != 0 {
		t.Errorf("large gap: lost %d", g.lost)
	}
	g.last = 1<<32 - 2
	g.see(5, t0) // the 32-bit counter wrapped
	g.see(6, t0)
	if g.lost != 1+maxTrackedGap+10 || g.last != 6 {
		t.Errorf("restart: lost %d last %d", g.lost, g.last)
	}
}
