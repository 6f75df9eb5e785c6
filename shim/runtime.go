package shim

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// guardEnv carries the PID of a secrun that is about to exec the runtime.
// exec keeps the PID, so seeing our own PID in it means the "runtime" led
// straight back to secrun (a wrapper script, a symlink farm): a loop.
const guardEnv = "SECRUN_EXEC_PID"

func reentered() bool {
	return os.Getenv(guardEnv) == strconv.Itoa(os.Getpid())
}

// findRuntime returns the first candidate (a name looked up in PATH, or a
// path) that exists, is executable and is not this very binary.
func findRuntime(candidates []string) (string, error) {
	self, selfErr := os.Stat("/proc/self/exe")
	isSelf := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && selfErr == nil && os.SameFile(fi, self)
	}
	var tried []string
	for _, c := range candidates {
		var paths []string
		if strings.Contains(c, "/") {
			paths = []string{c}
		} else {
			for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
				if dir == "" {
					dir = "."
				}
				paths = append(paths, filepath.Join(dir, c))
			}
		}
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				continue
			}
			if isSelf(p) {
				tried = append(tried, p+" (secrun itself, skipped)")
				continue
			}
			return p, nil
		}
		tried = append(tried, c)
	}
	return "", fmt.Errorf("no real runtime found (tried %s); set runtime in the node config or SECRUN_RUNTIME to runc or crun", strings.Join(tried, ", "))
}

// execRuntime replaces secrun with the runtime, argv[1:] unchanged, so PID,
// stdio, inherited fds, signals and exit status are the runtime's own.
func execRuntime(path string, argv []string) error {
	args := append([]string{path}, argv[1:]...)
	env := append(os.Environ(), guardEnv+"="+strconv.Itoa(os.Getpid()))
	err := syscall.Exec(path, args, env)
	return fmt.Errorf("exec %s: %w", path, err)
}

// runtimeCommand runs the runtime as a child for a query (exec's state look-up).
func runtimeCommand(ctx context.Context, path string, g Globals, args ...string) *exec.Cmd {
	var full []string
	if g.Root != "" {
		full = append(full, "--root", g.Root)
	}
	cmd := exec.CommandContext(ctx, path, append(full, args...)...)
	cmd.Env = append(os.Environ(), guardEnv+"=child")
	// A runtime that leaves a child holding its stdout must not hold us.
	cmd.WaitDelay = time.Second
	return cmd
}
