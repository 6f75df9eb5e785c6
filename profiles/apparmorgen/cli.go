// Package apparmorgen implements `secrun apparmor`: generating AppArmor
// profiles for containers from small policy files, checking profiles with
// apparmor_parser, and printing secrun's embedded default.
package apparmorgen

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/secrun/secrun/internal/atomicfile"
	"github.com/secrun/secrun/profiles"
)

// Usage is the help text of `secrun apparmor`.
const Usage = `usage: secrun apparmor COMMAND [OPTIONS]

commands:
  generate --policy FILE [--name NAME] [--mode enforce|complain] [--output FILE] [--load]
      Write an AppArmor profile for a container from a policy file (TOML or
      YAML). The profile keeps secrun-default's container rules (no mounts, no
      writes under /proc/sys or /sys, no kernel memory, signals and ptrace only
      within the profile) and adds the policy's. --name and --mode override
      the policy's. The profile goes to --output FILE, or to standard output.
      --load then loads it with apparmor_parser -Kr; on a host without
      AppArmor that fails, after the profile was written.
  check FILE...
      Compile profile files with apparmor_parser -Q -K (nothing is loaded) and
      report each; exits non-zero when any fails.
  default [--name NAME] [--mode enforce|complain]
      Print secrun's embedded default profile (name secrun-default).
  help
      Print this text.
`

// Main runs `secrun apparmor ARGS...` and returns the exit status: 0 on
// success, 1 when the work failed (an invalid policy, a profile that does
// not compile, a load that failed), 2 for a usage error or a missing
// apparmor_parser.
func Main(args []string, stdout, stderr io.Writer) int {
	c := &cli{host: &profiles.AppArmorHost{Root: "/"}, stdout: stdout, stderr: stderr}
	return c.run(args)
}

type cli struct {
	host           *profiles.AppArmorHost
	stdout, stderr io.Writer
}

func (c *cli) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, Usage)
		return 2
	}
	switch args[0] {
	case "generate":
		return c.generate(args[1:])
	case "check":
		return c.check(args[1:])
	case "default":
		return c.printDefault(args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, Usage)
		return 0
	}
	fmt.Fprintf(c.stderr, "secrun apparmor: unknown command %q\n\n%s", args[0], Usage)
	return 2
}

func (c *cli) flags(cmd string) *flag.FlagSet {
	fs := flag.NewFlagSet("secrun apparmor "+cmd, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, Usage) }
	return fs
}

func (c *cli) failf(cmd string, code int, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "secrun apparmor %s: %s\n", cmd, fmt.Sprintf(format, args...))
	return code
}

func (c *cli) generate(args []string) int {
	fs := c.flags("generate")
	policyFile := fs.String("policy", "", "policy file (TOML or YAML)")
	name := fs.String("name", "", "profile name (overrides the policy's)")
	mode := fs.String("mode", "", "enforce or complain (overrides the policy's)")
	output := fs.String("output", "", "write the profile to this file instead of standard output")
	load := fs.Bool("load", false, "load the profile with apparmor_parser -Kr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		return c.failf("generate", 2, "unexpected argument %q (the policy file goes after --policy)", fs.Arg(0))
	}
	if *policyFile == "" {
		return c.failf("generate", 2, "--policy FILE is required")
	}
	if *name != "" {
		if err := ValidName(*name); err != nil {
			return c.failf("generate", 2, "--name: %v", err)
		}
	}
	if *mode != "" {
		if err := ValidMode(*mode); err != nil {
			return c.failf("generate", 2, "--mode: %v", err)
		}
	}
	data, err := readPolicy(*policyFile)
	if err != nil {
		return c.failf("generate", 1, "%v", err)
	}
	p, err := ParsePolicy(*policyFile, data)
	if err != nil {
		return c.failf("generate", 1, "invalid policy:\n%v", err)
	}
	if *name != "" {
		p.Name = *name
	}
	if *mode != "" {
		p.Mode = *mode
	}
	if p.Name == "" {
		return c.failf("generate", 1, "no profile name: set name in %s or pass --name", *policyFile)
	}
	text, err := Generate(p)
	if err != nil {
		return c.failf("generate", 1, "%v", err)
	}
	where := "to standard output"
	if *output != "" {
		if err := writeFileAtomic(*output, []byte(text)); err != nil {
			return c.failf("generate", 1, "%v", err)
		}
		where = "to " + *output
	} else if _, err := io.WriteString(c.stdout, text); err != nil {
		return c.failf("generate", 1, "writing the profile: %v", err)
	}
	if !*load {
		return 0
	}
	if !c.host.Supported() {
		return c.failf("generate", 1, "profile %s was written %s but not loaded: %s", p.Name, where, c.unsupportedReason())
	}
	if err := c.host.Load(text); err != nil {
		return c.failf("generate", 1, "profile %s was written %s but not loaded: %v", p.Name, where, err)
	}
	fmt.Fprintf(c.stderr, "secrun apparmor generate: loaded profile %s\n", p.Name)
	return 0
}

// readPolicy reads a policy file, refusing anything but a regular file and
// anything too large to be one.
func readPolicy(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", file)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return data, nil
}

// unsupportedReason says which of AppArmorHost.Supported's conditions
// failed.
func (c *cli) unsupportedReason() string {
	if !c.host.KernelSupports() {
		return "this host does not support AppArmor (the kernel does not have it enabled)"
	}
	if c.host.Parser == "" {
		if _, err := exec.LookPath("apparmor_parser"); err != nil {
			return "this host does not support AppArmor (apparmor_parser is not in PATH; Debian's apparmor package has it)"
		}
	}
	return "this host does not support AppArmor loading here (secrun is running inside a container, where profiles cannot be loaded)"
}

// parser finds apparmor_parser: the host's, else PATH, else /sbin and
// /usr/sbin (often not on a user's PATH).
func (c *cli) parser() (string, error) {
	if c.host.Parser != "" {
		p, err := exec.LookPath(c.host.Parser)
		if err != nil {
			return "", fmt.Errorf("apparmor_parser: %v", err)
		}
		return p, nil
	}
	return findParser()
}

func findParser() (string, error) {
	if p, err := exec.LookPath("apparmor_parser"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/sbin/apparmor_parser", "/usr/sbin/apparmor_parser"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("apparmor_parser not found in PATH, /sbin or /usr/sbin (Debian's apparmor package has it)")
}

// checkTimeout bounds one apparmor_parser run in check: its expression
// simplifier can loop without end on some patterns.
var checkTimeout = 2 * time.Minute

// compile runs apparmor_parser -Q -K on a file: it compiles the profile
// (includes and all) without loading it or touching the cache. The parser
// forks a worker, so a run past the deadline is killed as a process group.
func compile(parser, file string) error {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, parser, "-Q", "-K", file)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Errorf("apparmor_parser did not finish in %v", checkTimeout)
	}
	if err != nil {
		return fmt.Errorf("%v\n%s", err, parserMessages(out))
	}
	return nil
}

// parserMessages drops the parser's note about a kernel without AppArmor,
// which it prints on every run there.
func parserMessages(out []byte) string {
	var keep []string
	for _, l := range strings.Split(string(bytes.TrimSpace(out)), "\n") {
		if strings.HasPrefix(l, "Cache read/write disabled") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

func (c *cli) check(args []string) int {
	fs := c.flags("check")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		return c.failf("check", 2, "no profile files given")
	}
	parser, err := c.parser()
	if err != nil {
		return c.failf("check", 2, "%v", err)
	}
	failed := 0
	for _, file := range fs.Args() {
		err := checkFile(parser, file)
		if err == nil {
			fmt.Fprintf(c.stdout, "ok    %s\n", file)
			continue
		}
		failed++
		fmt.Fprintf(c.stdout, "FAIL  %s\n", file)
		for _, l := range strings.Split(err.Error(), "\n") {
			if l != "" {
				fmt.Fprintf(c.stdout, "      %s\n", l)
			}
		}
	}
	if failed > 0 {
		return c.failf("check", 1, "%d of %d profiles failed to compile", failed, fs.NArg())
	}
	return 0
}

func checkFile(parser, file string) error {
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file")
	}
	return compile(parser, file)
}

func (c *cli) printDefault(args []string) int {
	fs := c.flags("default")
	name := fs.String("name", profiles.DefaultAppArmor, "profile name")
	mode := fs.String("mode", "enforce", "enforce or complain")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		return c.failf("default", 2, "unexpected argument %q", fs.Arg(0))
	}
	if err := ValidName(*name); err != nil {
		return c.failf("default", 2, "--name: %v", err)
	}
	if err := ValidMode(*mode); err != nil {
		return c.failf("default", 2, "--mode: %v", err)
	}
	fmt.Fprint(c.stdout, profiles.AppArmorDefault(*name, *mode == "complain"))
	return 0
}

// writeFileAtomic writes data to file through a temporary file in the same
// directory, so that a reader (or apparmor_parser) never sees half a
// profile.
func writeFileAtomic(file string, data []byte) error {
	return atomicfile.Write(file, data, 0o644)
}
