package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The wrapper runs for every create, state, kill and delete on the node: every
// package it links costs start-up time on each call. These must stay out of
// it (they belong in secrun-tools, if anywhere).
func TestWrapperStaysLean(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"github.com/opencontainers/runc/", // libcontainer and its logrus
		"github.com/sirupsen/logrus",
		"github.com/BurntSushi/toml", // one TOML library: go-toml/v2
		"github.com/seccomp/libseccomp-golang",
		"github.com/elastic/go-libaudit",
		"text/template",
		"html/template",
		"runtime/cgo",
		"net/http",
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f) {
				t.Errorf("cmd/secrun links %s; keep it out of the wrapper (secrun-tools may link it)", d)
			}
		}
	}
	// A guard against slow growth: the count was 100 when this test was
	// written; raise it only with a reason (and a `make bench` run).
	if len(deps) > 110 {
		t.Errorf("cmd/secrun links %d packages, over the budget of 110", len(deps))
	}
}
