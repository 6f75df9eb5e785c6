package main

import (
	"testing"

	"github.com/secrun/secrun/record"
	"github.com/secrun/secrun/shim"
)

// secrun hands exactly shim.ToolCommands() to this binary: each must be here.
func TestEveryToolCommandIsLinked(t *testing.T) {
	if shim.AgentCommand != record.AgentCommand {
		t.Fatalf("shim.AgentCommand %q != record.AgentCommand %q", shim.AgentCommand, record.AgentCommand)
	}
	for _, c := range shim.ToolCommands() {
		if tools[c] == nil {
			t.Errorf("tool command %q is not registered in secrun-tools", c)
		}
	}
	if len(tools) != len(shim.ToolCommands()) {
		t.Errorf("secrun-tools registers %d commands, shim.ToolCommands() lists %d", len(tools), len(shim.ToolCommands()))
	}
}
