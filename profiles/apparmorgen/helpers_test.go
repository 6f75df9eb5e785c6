package apparmorgen

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// parserPath finds the real apparmor_parser. Compiling with -Q -K needs no
// kernel support, so these tests run on kernels without AppArmor too. A
// missing parser skips, unless SECRUN_INTEGRATION=1.
func parserPath(t testing.TB) string {
	t.Helper()
	p, err := findParser()
	if err != nil {
		if os.Getenv("SECRUN_INTEGRATION") == "1" {
			t.Fatalf("%v (script/install-deps.sh installs apparmor)", err)
		}
		t.Skip(err)
	}
	return p
}

// compileText compiles profile text with apparmor_parser -Q -K.
//
// The profile and the parser's output go through files, not pipes: with
// *os.File stdio, os/exec starts no copying goroutines, so a run takes the
// same code path every time. Under -fuzz that keeps coverage stable; with
// pipes, each run's varying number of reads looked like new coverage and
// the fuzzer spent its time minimizing uninteresting inputs.
func compileText(parser, text string) (string, error) {
	dir, err := os.MkdirTemp("", "apparmorgen-compile")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	profile := filepath.Join(dir, "profile")
	if err := os.WriteFile(profile, []byte(text), 0o600); err != nil {
		return "", err
	}
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		return "", err
	}
	defer out.Close()
	// apparmor_parser can loop without end on some expressions (see
	// Glob), and it forks a worker: give it a deadline and kill its whole
	// process group.
	ctx, cancel := context.WithTimeout(context.Background(), compileTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, parser, "-Q", "-K", profile)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	runErr := cmd.Run()
	if ctx.Err() != nil {
		runErr = fmt.Errorf("apparmor_parser did not finish in %v", compileTimeout)
	}
	msg, _ := os.ReadFile(out.Name())
	return parserMessages(msg), runErr
}

const compileTimeout = 30 * time.Second

func mustCompile(t testing.TB, parser, what, text string) {
	t.Helper()
	if out, err := compileText(parser, text); err != nil {
		t.Fatalf("%s: apparmor_parser -Q -K: %v\n%s\n--- profile ---\n%s", what, err, out, numbered(text))
	}
}

func numbered(text string) string {
	var b strings.Builder
	for i, l := range strings.Split(text, "\n") {
		b.WriteString(strings.Repeat(" ", 4-len(itoa(i+1))) + itoa(i+1) + "  " + l + "\n")
	}
	return b.String()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}
