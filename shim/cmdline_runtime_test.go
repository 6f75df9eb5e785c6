package shim

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDialectsAgainstRuntimes holds each dialect to the real binary it
// models, where installed: the runtime is pointed at bundles that do not
// exist, so its error names the one it read (runc: "chdir DIR:", crun:
// "chdir `DIR`" or "realpath `DIR`"), and nothing is created.
func TestDialectsAgainstRuntimes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (the runtimes want to own their --root)")
	}
	tools := os.Getenv("SECRUN_TOOLS")
	if tools == "" {
		tools = "/opt/secrun-test/bin"
	}
	pairs := []struct {
		d    dialect
		path string
	}{{runc11, "/usr/sbin/runc"}, {runc12, tools + "/runc"}, {crunBefore, "/usr/bin/crun"}}
	// E is a bundle that does not exist; G another one.
	lines := []string{
		"run -b E x", "run --bundle=E x", "run -bE x", "run --bund E x", "run --bundl=E x",
		"run -db E x", "run -dbE x", "run -b=E x", "run -bundle E x", "run x --bundle E",
		"run --detach x --bundle E", "run --pid-file /tmp/p x -b E", "run --no-pivot x --frob",
		"run --bundle G -b E x", "run --bundle G --bundle E x", "run -b E -- x", "run --no-piv -b E x",
		"create --bundle E --pid-file /tmp/p x", "create --bundle E x extra", "create --frob -b E x",
		"--roo ROOT run -b E x", "--program-name state run -b E x", "--HANG=0 run -b E x",
		"-- run -b E x", "--debug=false run -b E x", "-root ROOT run -b E x",
		"--root ROOT --rootless false run -b E x", "--log-format json --log /dev/null run -b E x",
	}
	root := t.TempDir()
	const e, g = "/nonexistent-secrun-e", "/nonexistent-secrun-g"
	for _, p := range pairs {
		if _, err := os.Stat(p.path); err != nil {
			t.Logf("%s: %s not installed", p.d.name, p.path)
			continue
		}
		for _, line := range lines {
			line = strings.NewReplacer("ROOT", root, "E", e, "G", g).Replace(line)
			words := strings.Fields(line)
			if !strings.HasPrefix(line, "--roo ") && !strings.HasPrefix(line, "-root ") && !strings.Contains(line, "--root ") {
				words = append([]string{"--root", root}, words...)
			}
			argv := append([]string{"secrun"}, words...)
			r, err := p.d.read(argv, full)
			out, runErr := exec.Command(p.path, words...).CombinedOutput()
			text := string(out)
			readE := strings.Contains(text, "chdir "+e) || strings.Contains(text, "chdir `"+e+"`") ||
				strings.Contains(text, "realpath `=") && strings.Contains(text, e)
			if runErr == nil {
				t.Errorf("%s %s: the runtime succeeded: %s", p.path, line, text)
				continue
			}
			switch {
			case err != nil && readE:
				t.Errorf("%s: %s: secrun refuses (%v) but the runtime read bundle %s: %s", p.d.name, line, err, e, text)
			case err == nil && !readE:
				t.Errorf("%s: %s: secrun reads %s but the runtime did not take bundle %s: %s", p.d.name, line, show(r), e, text)
			case err == nil && !strings.HasSuffix(r.Cmd.Bundle, e):
				t.Errorf("%s: %s: secrun reads bundle %q, the runtime %s: %s", p.d.name, line, r.Cmd.Bundle, e, text)
			}
		}
	}
}
