package tool

import (
	"runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RuntimeBase is added to every profile `from-strace` writes: the syscalls
// the runtime itself makes after it has loaded the container's seccomp filter
// and before (or while) it execs the container process. A trace of the
// workload does not show them, yet a filter without them stops the
// container before its first instruction.
//
// How it was found: strace -f of `runc run`, `runc exec` (Debian's runc 1.1.5
// and runc 1.5.2) and `crun run`/`crun exec` (1.8.1), each with
// noNewPrivileges true and false, listing every call of the init process's
// threads between seccomp(SECCOMP_SET_MODE_FILTER) (or prctl(PR_SET_SECCOMP))
// and execve; then runc's standard_init_linux.go and setns_init_linux.go
// for what can happen there on other hosts (the Go runtime's threads, the
// pathrs-lite procfs checks, the exec fifo, hooks aside). The filter is
// loaded with TSYNC, so every thread of runc init is under it.
var RuntimeBase = []struct {
	Why   string
	Names []string
}{
	{
		// runc and crun load the filter, then exec the container process.
		// crun may exec through a file descriptor (fexecve = execveat).
		Why:   "exec of the container process",
		Names: []string{"execve", "execveat"},
	},
	{
		// A thread of runc init, or the process, ending.
		Why:   "exit",
		Names: []string{"exit", "exit_group"},
	},
	{
		// runc init is a Go program: the runtime preempts goroutines with
		// tgkill(SIGURG) and every handler returns through rt_sigreturn; an
		// interrupted call restarts through restart_syscall; new runtime
		// threads set up signal stacks and masks. crun resets handlers and
		// the mask before execve.
		Why: "signals (Go runtime of runc init, crun's reset before exec)",
		Names: []string{
			"rt_sigreturn", "rt_sigaction", "rt_sigprocmask", "sigaltstack",
			"restart_syscall", "tgkill", "getpid", "gettid",
		},
	},
	{
		// The Go scheduler and allocator of runc init keep running on every
		// thread: parking (futex), sysmon (nanosleep, sched_yield), the
		// netpoller behind os.File (epoll_*), heap growth and scavenging.
		// New threads get glibc's robust list and rseq registration.
		Why: "Go runtime of runc init: scheduler, netpoller, memory",
		Names: []string{
			"futex", "nanosleep", "sched_yield", "epoll_pwait", "epoll_wait", "epoll_ctl",
			"mmap", "munmap", "madvise", "mprotect", "brk", "set_robust_list", "rseq",
		},
	},
	{
		// After the filter, runc closes its sync and log pipes, reopens the
		// exec fifo through /proc/thread-self/fd (pathrs-lite: openat2 with
		// RESOLVE_ flags, fstatfs/statx/fstat checks that it is procfs,
		// faccessat, readlinkat, uname for the kernel version), writes "0" to
		// it, then closes every fd not passed to the container (getdents64 of
		// /proc/thread-self/fd, close, close_range, fcntl).
		Why: "runc init's fd work: exec fifo, procfs checks, closing fds",
		Names: []string{
			"openat", "openat2", "read", "write", "close", "close_range", "fcntl",
			"fstat", "newfstatat", "statx", "fstatfs", "readlinkat", "getdents64",
			"faccessat", "faccessat2", "lseek", "uname",
		},
	},
	{
		// crun create (noNewPrivileges false) loads the filter, then waits
		// for `crun start` on the exec fifo with select(2), which glibc
		// makes pselect6 (select, poll, ppoll on other builds).
		Why:   "crun waiting on the exec fifo",
		Names: []string{"pselect6", "select", "poll", "ppoll"},
	},
	{
		// Without noNewPrivileges the filter goes in before the runtime drops
		// privileges (runc: finalizeNamespace; crun: its exec path always),
		// so what follows is under it: capabilities, the bounding set and
		// keepcaps (prctl), groups and IDs, the working directory, the
		// parent check, crun's tty check and chown of stdio.
		Why: "dropping privileges after the filter (noNewPrivileges false, crun exec)",
		Names: []string{
			"capget", "capset", "prctl", "setgroups", "setuid", "setgid",
			"setresuid", "setresgid", "getuid", "geteuid", "getgid", "getegid",
			"getppid", "chdir", "fchdir", "getcwd", "ioctl", "fchown",
		},
	},
	{
		// What libc and the dynamic loader do first in every new process.
		// A trace normally has these; they are here so that a trace started
		// after exec (strace -p) still yields a profile that can start.
		Why: "start-up of the new process (dynamic loader, libc)",
		Names: []string{
			"arch_prctl", "set_tid_address", "prlimit64", "getrandom", "pread64", "access",
		},
	},
}

// runtimeBaseNames returns the RuntimeBase names libseccomp knows, sorted.
// A name this libseccomp lacks (arch_prctl exists only on x86) stays out
// only when libseccomp cannot resolve it at all.
func runtimeBaseNames() []string {
	var out []string
	for _, g := range RuntimeBase {
		for _, n := range g.Names {
			if knownName(n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

const (
	cloneThread = 0x00010000 // CLONE_THREAD
	eNOSYS      = 38
)

// runtimeThreadRules are added when the trace does not allow clone or
// clone3 outright. runc init's Go runtime may start a thread while the filter
// is in place: glibc's pthread_create tries clone3 and falls back to clone
// only on ENOSYS (not EPERM), so clone3 gets ENOSYS, as in Docker's
// profile, and clone is allowed for threads only (CLONE_THREAD set), so the
// container cannot fork or unshare unless its trace did.
func runtimeThreadRules(allowed map[string]bool) []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	if !allowed["clone"] {
		idx := uint(0)
		if runtime.GOARCH == "s390x" || runtime.GOARCH == "s390" {
			idx = 1 // clone's flags are its second argument on s390
		}
		out = append(out, specs.LinuxSyscall{
			Names:  []string{"clone"},
			Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{
				Index: idx, Value: cloneThread, ValueTwo: cloneThread, Op: specs.OpMaskedEqual,
			}},
		})
	}
	if !allowed["clone3"] {
		enosys := uint(eNOSYS)
		out = append(out, specs.LinuxSyscall{
			Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys,
		})
	}
	return out
}
