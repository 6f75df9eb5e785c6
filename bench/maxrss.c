/*
 * maxrss: peak resident set size of a command, for secrun's benchmarks.
 *
 * Usage: maxrss OUTFILE COMMAND [ARG...]
 *
 * Runs COMMAND (vfork + execvp) and, when it exits, writes
 * "MAXRSS_KIB USER_US SYS_US STATUS" to OUTFILE from wait4's rusage.
 * The kernel keeps ru_maxrss across execve, so for secrun, which execs the
 * runtime, it is the larger of secrun's and the runtime's peak; with
 * SECRUN_RUNTIME=/bin/true it is secrun's own.
 *
 * Why not measure from the Go harness: a child vforked (or forked) from a
 * process starts with its parent's RSS as the floor of ru_maxrss, and a Go
 * program's RSS is larger than the numbers being measured. This launcher's
 * is about 1 MiB (shown by measuring /bin/true). Built static.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *out;

	if (argc < 3) {
		fprintf(stderr, "usage: maxrss OUTFILE COMMAND [ARG...]\n");
		return 2;
	}
	pid = vfork();
	if (pid < 0) {
		perror("maxrss: vfork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("maxrss: wait4");
		return 1;
	}
	out = fopen(argv[1], "w");
	if (!out) {
		perror("maxrss: output");
		return 1;
	}
	fprintf(out, "%ld %ld %ld %d\n", ru.ru_maxrss,
		(long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
		(long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, status);
	fclose(out);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
