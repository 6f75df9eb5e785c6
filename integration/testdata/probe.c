/* probe: runs inside test containers and reports, from the inside, what the
 * kernel lets this process do. Static, no libc surprises in a busybox rootfs.
 *   probe status            Seccomp, CapEff, NoNewPrivs lines of /proc/self/status
 *   probe sys NAME...       try each primitive with harmless arguments; print "NAME ok" or "NAME EPERM"...
 *   probe sleep N           sleep N seconds (a long-running container for exec tests)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

static long try(const char *name) {
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
	errno = ENOSYS;
	fprintf(stderr, "probe: unknown primitive %s\n", name);
	return -2;
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
	if (argc == 3 && !strcmp(argv[1], "sleep")) {
		sleep(atoi(argv[2]));
		return 0;
	}
	fprintf(stderr, "usage: probe status | sys NAME... | sleep N\n");
	return 2;
}
