package shim

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// supportsLogFlag reports whether the runtime accepts the seccomp flag
// SECCOMP_FILTER_FLAG_LOG. runc 1.1 refuses every seccomp flag; runc >= 1.2
// lists supported flags in `features`; crun accepts it but (1.8) has no
// `features`.
func supportsLogFlag(runtime string) bool {
	fi, err := os.Stat(runtime)
	if err != nil {
		return false
	}
	// A new binary at the same path has another size or mtime: a new key.
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d\x00%d", runtime, fi.Size(), fi.ModTime().UnixNano())
	cache := filepath.Join(featuresCache, fmt.Sprintf("%016x", h.Sum64()))
	if v, ok := readCache(cache); ok && (v == "log-flag" || v == "no-log-flag") {
		return v == "log-flag"
	}
	ok := probeLogFlag(runtime)
	v := "no-log-flag"
	if ok {
		v = "log-flag"
	}
	writeCache(cache, v)
	return ok
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
