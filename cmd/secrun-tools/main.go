// Command secrun-tools is secrun with everything linked in: the wrapper
// plus the tools that need libseccomp (cgo). secrun hands the tool
// commands, and creates that start a recording agent, to it.
package main

import (
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/check"
	"github.com/secrun/secrun/monitor"
	"github.com/secrun/secrun/profiles/apparmorgen"
	"github.com/secrun/secrun/profiles/tool"
	"github.com/secrun/secrun/record"
	"github.com/secrun/secrun/setup"
	"github.com/secrun/secrun/shim"
)

var tools = map[string]shim.Tool{
	"check":             check.Main,
	"setup":             setup.Main,
	"profile":           tool.Main,
	"apparmor":          apparmorgen.Main,
	"record":            record.Main,
	record.AgentCommand: func(args []string, _, _ io.Writer) int { return record.AgentMain(args) },
	"monitor":           monitor.Main,
	"findings":          monitor.FindingsMain,
}

func main() {
	os.Exit(shim.MainWith(os.Args, shim.Extensions{Tools: tools, Recorder: startAgent}))
}

func startAgent(s *specs.Spec, id, out string) (*shim.Agent, error) {
	a, err := record.Prepare(s, id, out)
	if err != nil {
		return nil, err
	}
	return &shim.Agent{PID: a.PID, Output: a.Output, Cancel: a.Cancel}, nil
}
