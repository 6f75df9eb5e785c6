// Command secrun-bench measures what secrun adds to container creation, to
// passthrough subcommands and to system calls inside the container, side by
// side with the plain runtimes, and writes a markdown results section.
//
// It builds nothing: `make bench` builds bin/secrun, bin/goexec (the Go
// no-op exec wrapper, bench/goexec), bin/specexec (bench/specexec) and the static syscall loop
// (bench/syscall_loop.c) and runs the Go benchmarks, then runs this with
// -secrun, -goexec, -loop and -gobench. It asserts nothing about timings; it
// reports.
//
//	go run ./bench/cmd/secrun-bench -secrun bin/secrun -goexec bin/goexec -loop bin/syscall_loop -n 50
//
// Needs root, the runtimes named in -runtimes, and busybox-static.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	secrun     string
	goexec     string
	specexec   string
	loop       string
	gobench    string
	maxrss     string
	nodeConfig string
	nativeArch bool
	runtimes   string
	n          int
	warmup     int
	rounds     int
	iters      int
	out        string
	workdir    string
	busybox    string
	truePath   string
	timeout    time.Duration
	sections   string
	keep       bool
	commandStr string
	baseline   string
	// baselineName says which build the baseline is (-baseline-name).
	baselineName string
}

func main() {
	var o options
	flag.StringVar(&o.secrun, "secrun", "bin/secrun", "secrun binary to measure (built by `make build`)")
	flag.StringVar(&o.goexec, "goexec", "", "Go no-op exec wrapper (CGO_ENABLED=0 go build ./bench/goexec): the floor any Go wrapper pays; empty skips the goexec variants")
	flag.StringVar(&o.specexec, "specexec", "", "Go wrapper that decodes and rewrites the spec with secrun's JSON library and applies no policy (CGO_ENABLED=0 go build ./bench/specexec): the floor of rewriting the spec; empty skips it")
	flag.StringVar(&o.loop, "loop", "", "static syscall loop binary (gcc -static -O2 bench/syscall_loop.c); empty skips the syscall section")
	flag.StringVar(&o.maxrss, "maxrss", "", "static max-RSS launcher (gcc -static -O2 bench/maxrss.c); empty skips the memory table")
	flag.StringVar(&o.nodeConfig, "node-config", "deploy/config.toml", "node config of the default policy (what `make install` installs); missing: secrun's embedded default")
	flag.BoolVar(&o.nativeArch, "native-arch", false, "add create variant (e): the runtime on secrun's output with the seccomp profile limited to the native architecture")
	flag.StringVar(&o.gobench, "gobench", "", "output of `go test -bench . -benchmem ./bench/` to include in the results")
	flag.StringVar(&o.runtimes, "runtimes", "runc-1.1=/usr/sbin/runc,runc-1.5=/opt/secrun-test/bin/runc,crun=/usr/bin/crun", "runtimes as NAME=PATH,... (a missing one is skipped with a note)")
	flag.IntVar(&o.n, "n", 50, "measured iterations (interleaved A/B/C/D rounds) per runtime")
	flag.IntVar(&o.warmup, "warmup", 5, "unmeasured iterations before the measured ones")
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved rounds of the syscall loop per configuration")
	flag.IntVar(&o.iters, "iters", 1000000, "syscall loop iterations per syscall per run")
	flag.StringVar(&o.out, "out", "bench/results.md", "markdown results file to write")
	flag.StringVar(&o.workdir, "workdir", "auto", "directory for bundles and runtime roots; auto: the first tmpfs of /run and /dev/shm, like a node's /run, else $TMPDIR")
	flag.StringVar(&o.busybox, "busybox", "/bin/busybox", "busybox-static for the rootfs")
	flag.StringVar(&o.truePath, "true", "/bin/true", "a do-nothing binary: the runtime secrun execs when measuring secrun alone")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "limit for any one runtime or secrun call")
	flag.StringVar(&o.sections, "sections", "alone,memory,create,passthrough,syscall", "sections to run, comma-separated")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	flag.StringVar(&o.baseline, "baseline", "", "an older secrun build to measure in the same run, side by side (make bench BENCH_BASELINE=REV builds one)")
	flag.StringVar(&o.baselineName, "baseline-name", "", "what the baseline build is (a git revision), for the report")
	flag.Parse()
	o.commandStr = "secrun-bench " + strings.Join(os.Args[1:], " ")
	if o.baseline != "" && o.baselineName == "" {
		o.baselineName = o.baseline
	}
	if flag.NArg() > 0 || o.n < 1 || o.warmup < 0 || o.rounds < 1 || o.iters < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	code := benchMain(ctx, &o)
	cancel()
	os.Exit(code)
}

func benchMain(ctx context.Context, o *options) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "secrun-bench: needs root (it creates containers)")
		return 1
	}
	h, err := newHarness(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "secrun-bench:", err)
		return 1
	}
	defer h.cleanup()
	noop, _ := os.ReadFile(h.cfgNoop)
	rep := &report{opts: o, host: hostInfo(o, h), runtimes: h.runtimes, nodeFrom: h.nodeFrom,
		noopText: strings.ReplaceAll(strings.TrimSpace(string(noop)), "\n", "; ")}
	want := map[string]bool{}
	for _, s := range strings.Split(o.sections, ",") {
		want[strings.TrimSpace(s)] = true
	}
	rep.loadStart = loadavg()
	if want["alone"] {
		rep.alone = h.benchAlone()
	}
	if want["memory"] {
		if o.maxrss == "" {
			rep.notes = append(rep.notes, "Memory table skipped: no -maxrss launcher given.")
		} else {
			rep.mem = h.benchMemory()
		}
	}
	if want["create"] {
		for _, rt := range h.runtimes {
			rep.create = append(rep.create, h.benchCreate(rt))
		}
	}
	if want["passthrough"] {
		for _, rt := range h.runtimes {
			rep.pass = append(rep.pass, h.benchPassthrough(rt))
		}
	}
	if want["syscall"] {
		if o.loop == "" {
			rep.notes = append(rep.notes, "Syscall section skipped: no -loop binary given.")
		} else {
			for _, rt := range h.runtimes {
				rep.sys = append(rep.sys, h.benchSyscalls(rt))
			}
		}
	}
	rep.notes = append(rep.notes, h.notes...)
	if o.gobench != "" {
		gb, err := parseGoBench(o.gobench)
		if err != nil {
			rep.notes = append(rep.notes, fmt.Sprintf("Go benchmarks: %v", err))
		}
		rep.gobench = gb
	}
	rep.loadEnd = loadavg()
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "secrun-bench: interrupted; cleaning up, no results written")
		return 130
	}
	md := rep.markdown()
	fmt.Println(md)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err == nil {
			err = os.WriteFile(o.out, []byte(md), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "secrun-bench:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "secrun-bench: wrote %s\n", o.out)
	}
	return 0
}
