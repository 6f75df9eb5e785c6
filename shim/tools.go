package shim

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// secrun is two binaries so that the one containerd runs for every create,
// state, kill and delete starts fast: `secrun` is pure Go and holds only the
// wrapper; `secrun-tools` links libseccomp (cgo) and everything else. The
// tool commands, and a create that has to start a recording agent, are
// handed to secrun-tools by execve with the caller's argv unchanged.

// ToolCommands are the commands that run in secrun-tools.
func ToolCommands() []string {
	return []string{"check", "setup", "profile", "apparmor", "record", AgentCommand, "monitor", "findings"}
}

func isToolCommand(cmd string) bool {
	switch cmd {
	case "check", "setup", "profile", "apparmor", "record", AgentCommand, "monitor", "findings":
		return true
	}
	return false
}

// AgentCommand is record's hidden agent command (record.AgentCommand).
const AgentCommand = "record-agent"

// ToolsName is secrun-tools' file name, looked up next to secrun.
const ToolsName = "secrun-tools"

// Tool runs a tool command with the words after it.
type Tool func(args []string, stdout, stderr io.Writer) int

// Agent is a recording agent started for a container (see package record).
type Agent struct {
	PID    int
	Output string
	Cancel func() error
}

// Recorder starts a recording agent for container id whose policy-applied
// spec is s, and points s's seccomp at it (record.Prepare).
type Recorder func(s *specs.Spec, id, out string) (*Agent, error)

// Extensions are what a binary links in beyond the wrapper: secrun-tools
// passes its tool commands and the recorder to MainWith; secrun has none,
// and hands those commands to secrun-tools.
type Extensions struct {
	Tools    map[string]Tool
	Recorder Recorder
}

// errHandOff: this binary lacks what the command needs; secrun-tools has it.
var errHandOff = errors.New("needs secrun-tools")

// handOffEnv carries the PID of a secrun that execs secrun-tools: if it
// arrives at a binary that cannot do the work either, the hand-off would loop.
const handOffEnv = "SECRUN_HANDOFF_PID"

func handOff(inv *Invocation, log *logger) int {
	if os.Getenv(handOffEnv) == strconv.Itoa(os.Getpid()) {
		log.Error(fmt.Sprintf("%s: this binary was given as %s but has no tools in it; install the %s built with this secrun (make install)", self(), ToolsName, ToolsName))
		return 1
	}
	path, err := findTools()
	if err != nil {
		log.Error(fmt.Sprintf("secrun %s: %v", inv.Command, err))
		return 1
	}
	args := append([]string{path}, inv.Argv[1:]...)
	env := append(os.Environ(), handOffEnv+"="+strconv.Itoa(os.Getpid()))
	if exe, err := os.Executable(); err == nil {
		env = append(env, wrapperEnv+"="+exe)
	}
	err = syscall.Exec(path, args, env)
	log.Error(fmt.Sprintf("exec %s: %v", path, err))
	return 1
}

// findTools: $SECRUN_TOOLS, else secrun-tools next to this binary (both
// are installed together), else in PATH.
func findTools() (string, error) {
	if p := os.Getenv("SECRUN_TOOLS"); p != "" {
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), ToolsName)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(ToolsName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("this command is in %s, which is neither next to %s nor in PATH (install both: make install), or set SECRUN_TOOLS", ToolsName, self())
}

// wrapperEnv tells secrun-tools which secrun handed off to it.
const wrapperEnv = "SECRUN_WRAPPER"

// WrapperPath is the secrun binary containerd should run. It is asked by
// setup and check, which run in secrun-tools: the secrun that handed off
// to it (SECRUN_WRAPPER), else the secrun next to this binary (secrun
// itself, when asked there). Not this binary's name: secrun-tools may be
// installed under another one.
func WrapperPath() (string, error) {
	if p := os.Getenv(wrapperEnv); p != "" {
		return filepath.EvalSymlinks(p)
	}
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return "", fmt.Errorf("finding this executable: %w", err)
	}
	p := filepath.Join(filepath.Dir(exe), "secrun")
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: no secrun binary next to %s", p, exe)
	}
	return p, nil
}

func self() string {
	if exe, err := os.Executable(); err == nil {
		return exe
	}
	return "secrun"
}

// toolArgs are the words a tool command gets. record runs a container, so
// the global --root (`secrun --root R record ...`, as containerd's layout
// would have it) reaches it as record's own --root, which, given too, wins.
func toolArgs(inv *Invocation) []string {
	if inv.Command == "record" && inv.Globals.Root != "" {
		return append([]string{"--root", inv.Globals.Root}, inv.Args...)
	}
	return inv.Args
}
