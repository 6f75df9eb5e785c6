package shim

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// supportsLogFlag reports whether the runtime accepts the seccomp flag
// SECCOMP_FILTER_FLAG_LOG. runc 1.1 refuses every seccomp flag; runc >= 1.2
// lists supported flags in `features`; crun accepts it but (1.8) has no
// `features`.
func (f runtimeFacts) supportsLogFlag(runtime string) bool {
	v := f.fact(runtime, "seccomp-log-flag", func(v string) bool { return v == "log-flag" || v == "no-log-flag" }, func() string {
		if probeLogFlag(runtime) {
			return "log-flag"
		}
		return "no-log-flag"
	})
	return v == "log-flag"
}

func probeLogFlag(runtime string) bool {
	run := func(args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return runtimeCommand(ctx, runtime, Globals{}, args...).Output()
	}
	if out, err := run("features"); err == nil {
		var f struct {
			Linux struct {
				Seccomp struct {
					SupportedFlags []string `json:"supportedFlags"`
				} `json:"seccomp"`
			} `json:"linux"`
		}
		if json.Unmarshal(out, &f) == nil {
			return slices.Contains(f.Linux.Seccomp.SupportedFlags, "SECCOMP_FILTER_FLAG_LOG")
		}
	}
	out, err := run("--version")
	return err == nil && strings.HasPrefix(string(out), "crun ")
}
