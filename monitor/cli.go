package monitor

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const usage = `usage: secrun monitor [--output FILE|-] [--max-size BYTES] [--keep N] [--roots DIR,DIR...] [--source auto|audit|kmsg] [--kmsg PATH] [--stats-interval DURATION] [--all]

Reads the kernel's seccomp audit records (type=1326) and writes one JSON line
per record of a container secrun confined ("type":"finding"), plus "lost"
lines for records the kernel or the monitor dropped and periodic "stats"
lines. Records come from the audit netlink multicast group (every record,
also when auditd runs) or from /dev/kmsg (where printk's rate limit drops
most of a burst, and nothing arrives while auditd runs). Runs until SIGINT or
SIGTERM; SIGHUP reopens the output file.

`

// Main runs `secrun monitor ARGS` (args exclude "monitor").
func Main(args []string, stdout, stderr io.Writer) int {
	o, code := parseFlags(args, stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var out io.Writer = stdout
	if o.Output != "-" {
		f, err := OpenRotating(o.Output, o.MaxSize, o.Keep)
		if err != nil {
			fmt.Fprintf(stderr, "secrun monitor: %v\n", err)
			return 1
		}
		defer f.Close()
		defer reopenOnHUP(f, stderr)()
		out = f
	}
	if err := Run(ctx, o, out, stderr); err != nil {
		fmt.Fprintf(stderr, "secrun monitor: %v\n", err)
		return 1
	}
	return 0
}

// parseFlags reads the command line; code is the exit code when the
// monitor must not run, else -1.
func parseFlags(args []string, stderr io.Writer) (o Options, code int) {
	fs := flag.NewFlagSet("secrun monitor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Output, "output", "-", "findings file (JSON lines), or - for stdout")
	fs.Int64Var(&o.MaxSize, "max-size", 64<<20, "rotate the output file when it would grow past this many bytes (0: never)")
	fs.IntVar(&o.Keep, "keep", 5, "rotated files to keep (FILE.1 ... FILE.N)")
	roots := fs.String("roots", "", "more runtime state directories to find containers in, comma-separated (globs allowed); searched with "+strings.Join(defaultRoots, ","))
	fs.StringVar(&o.Source, "source", "auto", "where records come from: audit (netlink multicast group), kmsg, or auto (audit, else kmsg)")
	fs.StringVar(&o.Kmsg, "kmsg", "/dev/kmsg", "kernel log device (or a saved copy of it, read once) for --source kmsg")
	fs.DurationVar(&o.StatsInterval, "stats-interval", time.Minute, "how often to write a stats line (0: only at exit)")
	fs.BoolVar(&o.All, "all", false, "also report containers secrun did not confine")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, 0
		}
		return o, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "secrun monitor: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return o, 2
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "kmsg" && o.Source == "auto" {
			o.Source = "kmsg" // a kernel log named on purpose is read
		}
	})
	if o.Source != "auto" && o.Source != "audit" && o.Source != "kmsg" {
		fmt.Fprintf(stderr, "secrun monitor: --source %q: must be auto, audit or kmsg\n", o.Source)
		return o, 2
	}
	if o.MaxSize < 0 || o.Keep < 0 {
		fmt.Fprintln(stderr, "secrun monitor: --max-size and --keep must not be negative")
		return o, 2
	}
	o.Roots = append([]string(nil), defaultRoots...)
	for _, r := range strings.Split(*roots, ",") {
		if r = strings.TrimSpace(r); r != "" {
			o.Roots = append(o.Roots, r)
		}
	}
	return o, -1
}

// reopenOnHUP reopens f on SIGHUP (after logrotate moved it) until the
// returned function is called.
func reopenOnHUP(f *RotatingFile, stderr io.Writer) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if err := f.Reopen(); err != nil {
				fmt.Fprintf(stderr, "secrun monitor: reopening %s: %v\n", f.Path, err)
			}
		}
	}()
	return func() { signal.Stop(hup); close(hup) }
}
