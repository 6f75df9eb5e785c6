package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secrun/secrun/profiles"
)

// TestCrashSafety kills secrun with SIGKILL at random moments during create
// and checks that config.json is always either the original or the fully
// rewritten file, never a torn one.
func TestCrashSafety(t *testing.T) {
	rt := runtimes()[1]
	e := newEnv(t, rt)
	b := newBundle(t, "true")
	orig, _ := os.ReadFile(b.ConfigPath())

	// One full run gives the rewritten bytes and how long secrun takes.
	start := time.Now()
	if _, err := e.Create(t, b, "crash-ref"); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)
	e.Cmd("", "delete", "--force", "crash-ref").Run()
	rewritten, _ := os.ReadFile(b.ConfigPath())
	if bytes.Equal(orig, rewritten) {
		t.Fatal("the reference run did not rewrite config.json")
	}

	// secrun rewrites within its first milliseconds; the rest is runc.
	window := min(full, 15*time.Millisecond)
	trials := 120
	seen := map[string]int{}
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	for i := 0; i < trials; i++ {
		os.WriteFile(b.ConfigPath(), orig, 0o644)
		id := fmt.Sprintf("crash-%d", i)
		cmd := e.Cmd(b.Dir, "create", "--bundle", b.Dir, id)
		devnull, _ := os.Open(os.DevNull)
		cmd.Stdout, cmd.Stderr = devnull, devnull
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(r.Int63n(int64(window))))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		devnull.Close()
		got, _ := os.ReadFile(b.ConfigPath())
		switch {
		case bytes.Equal(got, orig):
			seen["original"]++
		case bytes.Equal(got, rewritten):
			seen["rewritten"]++
		default:
			t.Fatalf("trial %d: config.json is neither the original nor the rewritten file (%d bytes)", i, len(got))
		}
		e.Cmd("", "delete", "--force", id).Run()
	}
	t.Logf("%d SIGKILLs during create: %v (secrun+runc create took %v)", trials, seen, full)
	if seen["original"] == 0 || seen["rewritten"] == 0 {
		t.Errorf("the kills did not land on both sides of the write: %v", seen)
	}
}

// TestConcurrentPods starts 50 pods at once through containerd's CRI with
// the secrun runtime: all must come up confined, no bundle corrupted.
func TestConcurrentPods(t *testing.T) {
	c := containerds()[1]
	c.Start(t)
	const n = 50
	type result struct {
		ctr string
		err error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	begin := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, ctr, err := runPod(t, c, "secrun", "load", fmt.Sprintf("pod-%02d", i), nil, "app", nil)
			results[i] = result{ctr, err}
		}(i)
	}
	wg.Wait()
	t.Logf("%d pods (sandbox + container each) started in parallel in %v", n, time.Since(begin).Round(time.Millisecond))
	for i, r := range results {
		if r.err != nil {
			t.Errorf("pod %d: %v", i, r.err)
			continue
		}
		confined(t, fmt.Sprintf("pod %d", i), procStatus(t, inspectPid(t, c, "inspect", r.ctr)), profiles.BaselineCaps())
	}
	// Every bundle containerd made holds a complete, confined config.json.
	bundles, _ := filepath.Glob(c.Dir + "/state/io.containerd.runtime.v2.task/k8s.io/*/config.json")
	if len(bundles) < 2*n {
		t.Errorf("found %d bundles, want at least %d", len(bundles), 2*n)
	}
	var bad []string
	for _, path := range bundles {
		data, err := os.ReadFile(path)
		var s struct {
			Process struct{ NoNewPrivileges bool }
			Linux   struct{ Seccomp *json.RawMessage }
		}
		if err != nil || json.Unmarshal(data, &s) != nil || !s.Process.NoNewPrivileges || s.Linux.Seccomp == nil {
			bad = append(bad, path)
		}
		if leftovers, _ := filepath.Glob(filepath.Dir(path) + "/.config.json.secrun-*"); len(leftovers) > 0 {
			bad = append(bad, leftovers...)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("corrupt or unconfined bundles, or temp files left:\n%s", strings.Join(bad, "\n"))
	}
}
