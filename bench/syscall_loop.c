/*
 * syscall_loop: per-syscall cost inside a container, for secrun's benchmarks.
 *
 * Usage: syscall_loop [ITERATIONS]   (default 1000000)
 *
 * Times ITERATIONS calls of each of:
 *   getppid                 no argument rules in Docker's profile: with the
 *                           kernel's seccomp action cache (5.11+) an allowed
 *                           call of this kind skips the BPF program entirely
 *   personality(0xffffffff) argument-checked in Docker's profile: the filter
 *                           runs for every call
 *   read(/dev/zero, 1 byte) a call with real work in the kernel
 * and prints one line per syscall: "NAME NS_PER_OP". It also prints the
 * NoNewPrivs, Seccomp, Seccomp_filters and Speculation_Store_Bypass lines of
 * /proc/self/status, so the harness can check which configuration it ran
 * under (on kernels booted with spec_store_bypass_disable=seccomp, a filter
 * also turns on SSBD, which slows everything, not only system calls). Built static (gcc -static -O2) so
 * that it runs in a rootfs holding only busybox.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void status_lines(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	if (!f) {
		printf("status unavailable %d\n", errno);
		return;
	}
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "Seccomp:", 8) == 0 || strncmp(line, "Seccomp_filters:", 16) == 0 ||
		    strncmp(line, "NoNewPrivs:", 11) == 0 ||
		    strncmp(line, "Speculation_Store_Bypass:", 25) == 0)
			fputs(line, stdout);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	char buf[1];
	long i;
	double t;
	int fd = open("/dev/zero", O_RDONLY);

	if (n <= 0) {
		fprintf(stderr, "syscall_loop: bad iteration count\n");
		return 2;
	}
	if (fd < 0) {
		perror("syscall_loop: /dev/zero");
		return 1;
	}
	status_lines();
	/* Refuse to report a number for a call the filter denies: that would
	 * time the error path, not the call. */
	if (syscall(SYS_personality, 0xffffffffUL) < 0) {
		printf("personality denied %d\n", errno);
		return 1;
	}
	if (read(fd, buf, 1) != 1) {
		printf("read failed %d\n", errno);
		return 1;
	}

	/* Warm-up: fault in pages and caches before the timed loops. */
	for (i = 0; i < n / 10; i++)
		syscall(SYS_getppid);

	t = now_ns();
	for (i = 0; i < n; i++)
		syscall(SYS_getppid);
	printf("getppid %.2f\n", (now_ns() - t) / n);

	t = now_ns();
	for (i = 0; i < n; i++)
		syscall(SYS_personality, 0xffffffffUL);
	printf("personality %.2f\n", (now_ns() - t) / n);

	t = now_ns();
	for (i = 0; i < n; i++)
		if (read(fd, buf, 1) != 1)
			return 1;
	printf("read %.2f\n", (now_ns() - t) / n);
	close(fd);
	return 0;
}
