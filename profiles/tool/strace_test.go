package tool

import (
	"slices"
	"strings"
	"testing"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Each shape strace writes, as literal samples.
func TestLineShapes(t *testing.T) {
	cases := []struct {
		line string
		name string
		kind lineKind
	}{
		// plain
		{`openat(AT_FDCWD, "/etc", O_RDONLY|O_CLOEXEC) = 3`, "openat", lineCall},
		{`exit_group(0)                           = ?`, "exit_group", lineCall},
		{`read(3, "\177ELF\2\1\1\0"..., 832) = 832`, "read", lineCall},
		// -f on a terminal: [pid N]
		{`[pid  123] read(3, "", 4096) = 0`, "read", lineCall},
		{`[pid 98765] close(3)                  = 0`, "close", lineCall},
		// -f -o FILE: bare pid
		{`123   write(1, "x", 1) = 1`, "write", lineCall},
		{`4979  seccomp(SECCOMP_SET_MODE_FILTER, 0, {len=11, filter=0x55}) = 0`, "seccomp", lineCall},
		// -t, -tt, -ttt, -r, -T
		{`12:34:56 getpid() = 1`, "getpid", lineCall},
		{`12:34:56.789012 close(3) = 0`, "close", lineCall},
		{`[pid  5] 12:34:56.789012 mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, -1, 0) = 0x7f`, "mmap", lineCall},
		{`123   12:34:56.789012 brk(NULL) = 0x55d000`, "brk", lineCall},
		{`1700000000.123456 getuid() = 0`, "getuid", lineCall},
		{`     0.000123 munmap(0x7f0000, 4096) = 0`, "munmap", lineCall},
		{`123        0.000056 openat(AT_FDCWD, "/x", O_RDONLY) = -1 ENOENT (No such file or directory)`, "openat", lineCall},
		{`fstat(3, {st_mode=S_IFREG|0644, st_size=1}) = 0 <0.000010>`, "fstat", lineCall},
		{`17237 1795773571.427951 (+     0.000000) [00007f615ccb8ad7] execve("/bin/true", ["/bin/true"], 0x7fff /* 35 vars */) = 0 <0.000339>`, "execve", lineCall},
		// -i and -n
		{`[00007f3c1a2b3c4d] read(0, "", 1) = 0`, "read", lineCall},
		{`[  59] execve("/bin/true", ["/bin/true"], 0x7ffc /* 35 vars */) = 0`, "execve", lineCall},
		// unfinished and resumed
		{`[pid     7] wait4(-1,  <unfinished ...>`, "wait4", lineCall},
		{`[pid     7] <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 8`, "wait4", lineResumed},
		{`19958 <... nanosleep resumed>NULL)      = 0`, "nanosleep", lineResumed},
		{`<... read resumed>"", 4096) = 0`, "read", lineResumed},
		{`21243 <... clone3 resumed> => {parent_tid=[2 /* 21245 in strace's PID NS */]}, 88) = 2 /* 21245 in strace's PID NS */`, "clone3", lineResumed},
		{`restart_syscall(<... resuming interrupted read ...>) = 0`, "restart_syscall", lineCall},
		{`openat(AT_FDCWD, "/x", O_RDONLY) = -1 ENOENT (No such file or directory) (INJECTED)`, "openat", lineCall},
		// not syscalls
		{`+++ exited with 0 +++`, "", lineIgnored},
		{`[pid     8] +++ killed by SIGKILL +++`, "", lineIgnored},
		{`--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=8, si_uid=0, si_status=0} ---`, "", lineIgnored},
		{`123   --- SIGURG {si_signo=SIGURG, si_code=SI_TKILL, si_pid=1, si_uid=0} ---`, "", lineIgnored},
		{`12:00:00.000001 --- stopped by SIGSTOP ---`, "", lineIgnored},
		{`strace: Process 123 attached`, "", lineIgnored},
		{`[ Process PID=123 runs in 32 bit mode. ]`, "", lineIgnored},
		{` > /usr/lib/x86_64-linux-gnu/libc.so.6(__read+0x12) [0x10abc]`, "", lineIgnored},
		{`???( <unfinished ...>`, "", lineIgnored},
		{`22257 1795773623.855170 (+     0.001539) [ 231] [????????????????] +++ exited with 0 +++`, "", lineIgnored},
		{``, "", lineIgnored},
		// not strace output
		{`hello world`, "", lineUnknown},
		{`Read(3) = 0`, "", lineUnknown},
		{`{"defaultAction": "SCMP_ACT_ERRNO"}`, "", lineUnknown},
	}
	for _, c := range cases {
		name, kind := lineName(c.line)
		if name != c.name || kind != c.kind {
			t.Errorf("%q: got %q kind %d, want %q kind %d", c.line, name, kind, c.name, c.kind)
		}
	}
}

// The -c summary table (and -C: the trace, then the table).
func TestSummaryTable(t *testing.T) {
	out := `execve("/bin/ls", ["ls"], 0x7ffc /* 35 vars */) = 0
exit_group(0)                           = ?
+++ exited with 0 +++
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 31.81    0.000285           8        34        13 openat
 14.96    0.000134           4        30           mmap
  5.69    0.000051          25         2           getdents64
  0.00    0.000000           0         1           execve
------ ----------- ----------- --------- --------- ----------------
100.00    0.000896           6        67        13 total

System call usage summary for 32 bit mode:
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
100.00    0.000010          10         1           _llseek
------ ----------- ----------- --------- --------- ----------------
100.00    0.000010          10         1           total
`
	tr := NewTrace()
	if err := tr.Parse(strings.NewReader(out), "c.txt"); err != nil {
		t.Fatal(err)
	}
	want := []string{"_llseek", "execve", "exit_group", "getdents64", "mmap", "openat"}
	if got := sortedKeys(tr.Calls); !slices.Equal(got, want) {
		t.Errorf("names %v, want %v", got, want)
	}
	if tr.Calls["openat"] != 34 || tr.Calls["execve"] != 2 {
		t.Errorf("calls: openat %d (want 34), execve %d (want 2: one traced, one in the table)", tr.Calls["openat"], tr.Calls["execve"])
	}
	if tr.UnparsedCount != 0 {
		t.Errorf("unparsed: %v", tr.Unparsed)
	}
}

func TestUnparsedAndNumbers(t *testing.T) {
	want, err := libseccomp.ScmpSyscall(59).GetName() // execve on x86_64
	if err != nil {
		t.Skip("libseccomp has no syscall 59 on this architecture")
	}
	tr := NewTrace()
	in := "syscall_0x3b(0x1, 0x2) = 0\nsyscall_59(0x1) = 0\nsyscall_0xfffff(0) = -1 ENOSYS (Function not implemented)\nsome noise\nmore noise\n"
	if err := tr.Parse(strings.NewReader(in), "n.txt"); err != nil {
		t.Fatal(err)
	}
	if tr.Calls[want] != 2 || tr.Numbers["syscall_0x3b"] != want {
		t.Errorf("syscall_0x3b: calls %v numbers %v, want %s", tr.Calls, tr.Numbers, want)
	}
	if _, ok := tr.Calls["syscall_0xfffff"]; !ok || tr.Numbers["syscall_0xfffff"] != "" {
		t.Errorf("an unknown number must stay as strace wrote it: %v %v", tr.Calls, tr.Numbers)
	}
	if tr.UnparsedCount != 2 || !strings.HasPrefix(tr.Unparsed[0], "n.txt:4: some noise") {
		t.Errorf("unparsed %d %q", tr.UnparsedCount, tr.Unparsed)
	}
}
