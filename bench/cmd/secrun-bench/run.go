package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// call is one process the harness starts and times.
type call struct {
	Path string
	Args []string // argv[1:]
	Env  []string
	// Out receives stdout and stderr. It must be a file, never a pipe: a
	// created container inherits the runtime's stdio and would hold a pipe
	// open for as long as it lives.
	Out string
}

// result is what one call cost.
type result struct {
	Wall time.Duration
	// CPU is user + system time from wait4's rusage. (Its ru_maxrss is not
	// used: a child of this Go process starts with the harness's RSS as the
	// floor; the memory table goes through bench/maxrss.c instead.)
	CPU time.Duration
	// Faults are the minor page faults (ru_minflt), counted across the
	// execve: a wrapper's and the program it execs.
	Faults int64
	Err    error
}

// run starts c and waits for it. The timed region is fork to exit as seen by
// wait4: output files are opened and argv/env built before the clock starts.
// A call that outlives timeout is killed and reported as an error.
func run(ctx context.Context, c call, timeout time.Duration) result {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return result{Err: err}
	}
	defer devnull.Close()
	out := devnull
	if c.Out != "" {
		f, err := os.OpenFile(c.Out, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return result{Err: err}
		}
		defer f.Close()
		out = f
	}
	if err := ctx.Err(); err != nil {
		return result{Err: err}
	}
	attr := &os.ProcAttr{Env: c.Env, Files: []*os.File{devnull, out, out}}
	argv := append([]string{c.Path}, c.Args...)

	start := time.Now()
	p, err := os.StartProcess(c.Path, argv, attr)
	if err != nil {
		return result{Err: err}
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() { timedOut.Store(true); p.Kill() })
	stop := context.AfterFunc(ctx, func() { p.Kill() })
	st, err := p.Wait()
	wall := time.Since(start)
	timer.Stop()
	stop()
	if err != nil {
		return result{Err: err}
	}
	r := result{Wall: wall}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.Faults = ru.Minflt
	}
	switch {
	case timedOut.Load():
		r.Err = fmt.Errorf("%s %s: timed out after %s", c.Path, strings.Join(c.Args, " "), timeout)
	case ctx.Err() != nil:
		r.Err = ctx.Err()
	case !st.Success():
		r.Err = fmt.Errorf("%s %s: %s%s", c.Path, strings.Join(c.Args, " "), st, tail(c.Out))
	}
	return r
}

// tail returns the end of a call's output file, for error messages.
func tail(path string) string {
	if path == "" {
		return ""
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return ""
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 600 {
		s = "..." + s[len(s)-600:]
	}
	return ": " + s
}

// baseEnv is the harness's environment without any SECRUN_ variable, so that
// a stray SECRUN_CONFIG in the caller's shell cannot change what is measured.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SECRUN_") && !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	return env
}

func withEnv(env []string, kv ...string) []string {
	return append(append([]string(nil), env...), kv...)
}
