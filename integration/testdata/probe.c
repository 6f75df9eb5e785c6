/* probe: runs inside test containers and reports, from the inside, what the
 * kernel lets this process do. Static, no libc surprises in a busybox rootfs.
 *   probe status            Seccomp, CapEff, NoNewPrivs lines of /proc/self/status
 *   probe sys NAME...       try each primitive with harmless arguments; print "NAME ok" or "NAME EPERM"...
 *   probe each NAME...      the same, each primitive in a forked child of its own, so that one
 *                           primitive's side effects (a new namespace, a persona) cannot colour the next
 *   probe list              the names of every primitive, one a line
 *   probe sleep N           sleep N seconds (a long-running container for exec tests)
 *
 * Every primitive is one an escape or a kernel exploit starts with, called with
 * arguments that cannot hurt the host even when the call is allowed: invalid
 * values the kernel rejects after its permission checks, nonexistent paths and
 * ids, queries, or objects (fds, keys, mounts, namespaces) that belong to this
 * process only and are closed, removed or left to die with it. An errno other
 * than EPERM therefore means the call got past seccomp and the capability
 * checks and the kernel refused the harmless arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/fanotify.h>
#include <linux/io_uring.h>
#include <linux/kcmp.h>
#include <linux/keyctl.h>
#include <linux/mount.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/quota.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MNT_DETACH
#define MNT_DETACH 2
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif

/* Scratch paths in /dev/shm, the container's own tmpfs (world-writable, so
 * every level can create them): a fresh directory nothing else uses, the
 * target of the mount primitives, and mknod's node. Both are removed again. */
#define SCRATCH_DIR "/dev/shm/secrun-probe-mnt"
#define SCRATCH_NODE "/dev/shm/secrun-probe-null"

static int probe_signal; /* set when a forked primitive died of a signal */

/* wait_child reaps pid and turns its exit status into a return value: 0 for
 * exit 0, -1 with errno for exit code N (an errno the child saw), -3 with
 * probe_signal set for death by a signal. */
static long wait_child(pid_t pid) {
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) return -1;
	if (WIFSIGNALED(st)) { probe_signal = WTERMSIG(st); return -3; }
	if (WEXITSTATUS(st) == 0) return 0;
	errno = WEXITSTATUS(st);
	return -1;
}

/* in_new_userns runs fn in a child that first unshares a user and a mount
 * namespace, the way unprivileged exploits get CAP_SYS_ADMIN over a mount
 * namespace of their own. The child's namespaces die with it. */
static long in_new_userns(long (*fn)(void)) {
	pid_t pid = fork();
	if (pid < 0) return -1;
	if (pid == 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) _exit(errno);
		_exit(fn() < 0 ? errno : 0);
	}
	return wait_child(pid);
}

/* mount_tmpfs mounts a tmpfs over SCRATCH_DIR in the caller's mount namespace
 * and takes it straight off again. */
static long mount_tmpfs(void) {
	long r = syscall(SYS_mount, "none", SCRATCH_DIR, "tmpfs", 0UL, "");
	if (r == 0) syscall(SYS_umount2, SCRATCH_DIR, MNT_DETACH);
	return r;
}

/* with_scratch_dir creates SCRATCH_DIR, runs fn and removes the directory. */
static long with_scratch_dir(long (*fn)(void)) {
	if (mkdir(SCRATCH_DIR, 0700) < 0 && errno != EEXIST) return -1;
	long r = fn();
	int saved = errno;
	rmdir(SCRATCH_DIR);
	errno = saved;
	return r;
}

static long userns_mount_tmpfs(void) { return in_new_userns(mount_tmpfs); }

/* open_tree_clone makes a detached copy of SCRATCH_DIR's mount, which
 * disappears when the fd is closed. */
static long open_tree_clone(void) {
	long fd = syscall(SYS_open_tree, AT_FDCWD, SCRATCH_DIR, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd >= 0) close(fd);
	return fd;
}

/* fsopen_tmpfs opens a tmpfs filesystem context (new mount API: the first
 * step of CVE-2022-0185) and closes it without creating anything. */
static long fsopen_tmpfs(void) {
	long fd = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fd >= 0) close(fd);
	return fd;
}

/* close_fd closes an fd a primitive got and passes the result on. */
static long close_fd(long fd) {
	if (fd >= 0) close(fd);
	return fd;
}

/* clone_result: the child of a namespace-creating clone exits at once; the
 * parent reaps it. */
static long clone_result(long r) {
	if (r == 0) _exit(0);
	if (r < 0) return r;
	return wait_child(r);
}

/* struct clone_args, version 0 (64 bytes), spelled out so as not to mix
 * <linux/sched.h> with glibc's <sched.h>. */
struct probe_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

/* thread_start: the thread glibc's pthread_create starts (clone3, or clone
 * with CLONE_THREAD after clone3's ENOSYS); it does nothing. */
static void *thread_start(void *arg) { return arg; }

static long try(const char *name) {
#if defined(__x86_64__)
	if (!strcmp(name, "int80-getpid")) { /* getpid through the 32-bit ABI (x86): not in names[] */
		long r;
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
		if (r < 0) { errno = -r; return -1; }
		return r;
	}
#endif
	if (!strcmp(name, "thread")) { /* not an escape: threaded programs need it (not in names[]) */
		pthread_t th;
		int e = pthread_create(&th, NULL, thread_start, NULL);
		if (e) { errno = e; return -1; }
		return pthread_join(th, NULL) ? -1 : 0;
	}
	if (!strcmp(name, "keyctl")) /* KEYCTL_JOIN_SESSION_KEYRING, anonymous */
		return syscall(SYS_keyctl, 1, NULL);
	if (!strcmp(name, "unshare-user"))
		return unshare(CLONE_NEWUSER);
	if (!strcmp(name, "unshare-mount"))
		return unshare(CLONE_NEWNS);
	if (!strcmp(name, "ptrace")) /* no such pid: ESRCH when allowed */
		return ptrace(PTRACE_ATTACH, 999999, 0, 0);
	if (!strcmp(name, "personality")) { /* set then restore the persona */
		long old = personality(0xffffffff);
		long r = personality(PER_LINUX32);
		if (r >= 0) personality(old);
		return r;
	}
	if (!strcmp(name, "getppid"))
		return syscall(SYS_getppid);

	/* --- namespaces --- */
	if (!strcmp(name, "unshare-net")) /* a network namespace of this process only */
		return syscall(SYS_unshare, CLONE_NEWNET);
	if (!strcmp(name, "setns")) /* fd -1: EBADF when allowed */
		return syscall(SYS_setns, -1, 0);
	if (!strcmp(name, "clone-newuser")) /* the child exits at once */
		return clone_result(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
	if (!strcmp(name, "clone3-newuser")) {
		struct probe_clone_args a = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
		return clone_result(syscall(SYS_clone3, &a, sizeof a));
	}
	/* --- mounts, old and new API --- */
	if (!strcmp(name, "mount")) /* a tmpfs over a fresh directory, unmounted at once */
		return with_scratch_dir(mount_tmpfs);
	if (!strcmp(name, "userns-mount")) /* the same from a fresh user+mount namespace */
		return with_scratch_dir(userns_mount_tmpfs);
	if (!strcmp(name, "fsopen"))
		return fsopen_tmpfs();
	if (!strcmp(name, "userns-fsopen"))
		return in_new_userns(fsopen_tmpfs);
	if (!strcmp(name, "open-tree")) /* a detached copy of a mount, gone on close */
		return with_scratch_dir(open_tree_clone);
	if (!strcmp(name, "move-mount")) /* fds -1, empty paths: ENOENT when allowed */
		return syscall(SYS_move_mount, -1, "", -1, "", 0);
	if (!strcmp(name, "pivot-root")) /* nonexistent paths: ENOENT when allowed */
		return syscall(SYS_pivot_root, "/nonexistent/secrun-probe", "/nonexistent/secrun-probe");
	if (!strcmp(name, "chroot")) /* into the root it already has */
		return syscall(SYS_chroot, "/");
	if (!strcmp(name, "open-by-handle")) /* "shocker": no mount fd, no handle */
		return syscall(SYS_open_by_handle_at, -1, NULL, O_RDONLY);
	if (!strcmp(name, "name-to-handle")) { /* zero-byte buffer: EOVERFLOW when allowed */
		struct file_handle fh = {.handle_bytes = 0};
		int mount_id;
		return syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &fh, &mount_id, 0);
	}
	if (!strcmp(name, "mknod")) { /* /dev/null's numbers, in the container's /dev/shm, removed at once */
		long r = syscall(SYS_mknodat, AT_FDCWD, SCRATCH_NODE, S_IFCHR | 0600, makedev(1, 3));
		if (r == 0) unlink(SCRATCH_NODE);
		return r;
	}
	/* --- keyrings (not namespaced) --- */
	if (!strcmp(name, "add-key")) /* a key in this process's own keyring, which dies with it */
		return syscall(SYS_add_key, "user", "secrun-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
	if (!strcmp(name, "request-key")) /* no callout info: ENOKEY, never an upcall */
		return syscall(SYS_request_key, "user", "secrun-probe-absent", NULL, 0);
	/* --- bpf, perf, userfaultfd, io_uring --- */
	if (!strcmp(name, "bpf-map")) { /* map type 0 (unspec): EINVAL when allowed */
		union bpf_attr a;
		memset(&a, 0, sizeof a);
		return close_fd(syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a));
	}
	if (!strcmp(name, "bpf-prog")) { /* program type 0, no instructions: E2BIG/EINVAL when allowed */
		union bpf_attr a;
		memset(&a, 0, sizeof a);
		return close_fd(syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a));
	}
	if (!strcmp(name, "perf-event")) { /* a disabled task-clock counter on this process, user space only */
		struct perf_event_attr a;
		memset(&a, 0, sizeof a);
		a.type = PERF_TYPE_SOFTWARE;
		a.size = sizeof a;
		a.config = PERF_COUNT_SW_TASK_CLOCK;
		a.disabled = 1;
		a.exclude_kernel = 1;
		a.exclude_hv = 1;
		return close_fd(syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
	}
	if (!strcmp(name, "userfaultfd")) /* user-mode faults only: what an unprivileged exploit can get */
		return close_fd(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
	if (!strcmp(name, "io-uring")) { /* a one-entry ring, closed unused */
		struct io_uring_params p;
		memset(&p, 0, sizeof p);
		return close_fd(syscall(SYS_io_uring_setup, 1, &p));
	}
	/* --- kernel modules, kexec, reboot --- */
	if (!strcmp(name, "init-module")) /* no image: EFAULT/ENOEXEC when allowed */
		return syscall(SYS_init_module, NULL, 0UL, "");
	if (!strcmp(name, "finit-module")) /* fd -1: EBADF when allowed */
		return syscall(SYS_finit_module, -1, "", 0);
	if (!strcmp(name, "delete-module")) /* no such module: ENOENT when allowed */
		return syscall(SYS_delete_module, "secrun_probe_absent", O_NONBLOCK);
	if (!strcmp(name, "kexec-load")) /* too many segments, no such arch: EINVAL when allowed */
		return syscall(SYS_kexec_load, 0UL, 0xffffUL, NULL, 0xffff0000UL);
	if (!strcmp(name, "reboot")) /* the magic numbers with no such command: EINVAL when allowed */
		return syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, 0x5ec7c0deU, NULL);
	/* --- sockets --- */
	if (!strcmp(name, "socket-packet"))
		return close_fd(socket(AF_PACKET, SOCK_RAW, 0));
	if (!strcmp(name, "socket-raw"))
		return close_fd(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	if (!strcmp(name, "socket-vsock")) /* host/guest sockets, never connected */
		return close_fd(socket(AF_VSOCK, SOCK_STREAM, 0));
	if (!strcmp(name, "socket-alg")) /* the kernel crypto API, never bound */
		return close_fd(socket(AF_ALG, SOCK_SEQPACKET, 0));
	/* --- other processes' memory --- */
	if (!strcmp(name, "process-vm-readv")) /* this process, zero iovecs */
		return syscall(SYS_process_vm_readv, getpid(), NULL, 0UL, NULL, 0UL, 0UL);
	if (!strcmp(name, "kcmp")) /* compare this process's address space with itself */
		return syscall(SYS_kcmp, getpid(), getpid(), KCMP_VM, 0UL, 0UL);
	/* --- clock, logs, accounting, swap, quotas, I/O ports, NUMA, fanotify --- */
	if (!strcmp(name, "clock-settime")) { /* tv_nsec out of range: EINVAL when allowed */
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 2000000000L};
		return syscall(SYS_clock_settime, CLOCK_REALTIME, &ts);
	}
	if (!strcmp(name, "syslog")) /* SYSLOG_ACTION_SIZE_BUFFER: a query */
		return syscall(SYS_syslog, 10, NULL, 0);
	if (!strcmp(name, "acct")) /* nonexistent file: ENOENT when allowed */
		return syscall(SYS_acct, "/nonexistent/secrun-probe");
	if (!strcmp(name, "swapoff")) /* nonexistent file: ENOENT when allowed */
		return syscall(SYS_swapoff, "/nonexistent/secrun-probe");
	if (!strcmp(name, "quotactl")) { /* Q_GETFMT, nonexistent device: ENOENT when allowed */
		uint32_t fmt;
		return syscall(SYS_quotactl, QCMD(Q_GETFMT, USRQUOTA), "/nonexistent/secrun-probe", 0, &fmt);
	}
	if (!strcmp(name, "iopl")) { /* level 0, the level it has */
#ifdef SYS_iopl
		return syscall(SYS_iopl, 0);
#else
		errno = ENOSYS;
		return -1;
#endif
	}
	if (!strcmp(name, "get-mempolicy")) /* a query */
		return syscall(SYS_get_mempolicy, NULL, NULL, 0UL, NULL, 0UL);
	if (!strcmp(name, "fanotify-init")) /* a notification group, closed unused */
		return close_fd(syscall(SYS_fanotify_init, FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_REPORT_FID, O_RDONLY));
	errno = ENOSYS;
	fprintf(stderr, "probe: unknown primitive %s\n", name);
	return -2;
}

/* names lists every primitive, for `probe list`. */
static const char *names[] = {
	"getppid",
	"unshare-user", "unshare-mount", "unshare-net", "setns", "clone-newuser", "clone3-newuser",
	"mount", "userns-mount", "fsopen", "userns-fsopen", "open-tree", "move-mount", "pivot-root",
	"chroot", "open-by-handle", "name-to-handle", "mknod",
	"keyctl", "add-key", "request-key",
	"bpf-map", "bpf-prog", "perf-event", "userfaultfd", "io-uring",
	"init-module", "finit-module", "delete-module", "kexec-load", "reboot",
	"socket-packet", "socket-raw", "socket-vsock", "socket-alg",
	"ptrace", "process-vm-readv", "kcmp", "personality",
	"clock-settime", "syslog", "acct", "swapoff", "quotactl", "iopl", "get-mempolicy", "fanotify-init",
	NULL,
};

static void report(const char *name, long r) {
	if (r >= 0) printf("%s ok\n", name);
	else if (r == -3) printf("%s SIG%s\n", name, sigabbrev_np(probe_signal) ? sigabbrev_np(probe_signal) : "?");
	else printf("%s %s\n", name, strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
}

int main(int argc, char **argv) {
	if (argc >= 2 && !strcmp(argv[1], "status")) {
		FILE *f = fopen("/proc/self/status", "r");
		char line[512];
		if (!f) { perror("status"); return 1; }
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "Seccomp:", 8) || !strncmp(line, "CapEff:", 7) ||
			    !strncmp(line, "CapBnd:", 7) || !strncmp(line, "NoNewPrivs:", 11))
				fputs(line, stdout);
		fclose(f);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "sys")) {
		for (int i = 2; i < argc; i++) {
			errno = 0;
			long r = try(argv[i]);
			if (r >= 0) printf("%s ok\n", argv[i]);
			else printf("%s %s\n", argv[i], strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
		}
		fflush(stdout);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "each")) {
		for (int i = 2; i < argc; i++) {
			fflush(stdout);
			pid_t pid = fork();
			if (pid < 0) { perror("fork"); return 1; }
			if (pid == 0) {
				errno = 0;
				report(argv[i], try(argv[i]));
				fflush(stdout);
				_exit(0);
			}
			probe_signal = 0;
			long r = wait_child(pid);
			if (r == -3) report(argv[i], r); /* the child died before it could report */
		}
		fflush(stdout);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "list")) {
		for (const char **n = names; *n; n++) puts(*n);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "sleep")) {
		sleep(atoi(argv[2]));
		return 0;
	}
	/* hold SECONDS NAME...: like sys, then stay alive SECONDS, so that a
	 * monitor reading the kernel's record of a call finds the process. */
	if (argc >= 3 && !strcmp(argv[1], "hold")) {
		for (int i = 3; i < argc; i++) {
			errno = 0;
			long r = try(argv[i]);
			if (r >= 0) printf("%s ok\n", argv[i]);
			else printf("%s %s\n", argv[i], strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
		}
		fflush(stdout);
		sleep(atoi(argv[2]));
		return 0;
	}
	/* burst N NAME: call a primitive N times; prints "burst NAME N ok=A
	 * failed=B errno=E" (E: the last failure's errno). */
	if (argc == 4 && !strcmp(argv[1], "burst")) {
		long n = atol(argv[2]), ok = 0, failed = 0;
		int last = 0;
		for (long i = 0; i < n; i++) {
			errno = 0;
			long r = try(argv[3]);
			if (r == -2) return 2; /* unknown primitive */
			if (r >= 0) ok++;
			else { failed++; last = errno; }
		}
		printf("burst %s %ld ok=%ld failed=%ld errno=%s\n", argv[3], n, ok, failed,
		       last ? (strerrorname_np(last) ? strerrorname_np(last) : "E?") : "none");
		fflush(stdout);
		return 0;
	}
	fprintf(stderr, "usage: probe status | sys NAME... | each NAME... | list | sleep N\n");
	return 2;
}
