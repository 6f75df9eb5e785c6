package integration

import (
	"fmt"
	"testing"
	"time"
)

// TestMonitorExitedInit: a container whose one process makes a denied call
// and exits at once still gets the finding (the monitor reads the record
// after the process is gone: it was the container's init, and the
// container existed when the record was made).
func TestMonitorExitedInit(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			if !supportsLogFlag(rt) {
				t.Skipf("%s does not support SECCOMP_FILTER_FLAG_LOG: no denial records", rt.Name)
			}
			e := newEnv(t, rt)
			e.WriteConfig(t, "[monitor]\nfindings = true\n")
			m := startMonitor(t, "auto", e.Root)
			var got map[string]map[string]any
			for attempt := 1; attempt <= 3; attempt++ {
				id := fmt.Sprintf("mon-exit-%s-%d", rt.Name, attempt)
				b := newBundle(t, "probe", "sys", "keyctl")
				if _, err := e.Create(t, b, id); err != nil {
					t.Fatal(err)
				}
				if out, err := e.Cmd(b.Dir, "start", id).CombinedOutput(); err != nil {
					t.Fatalf("start: %v %s", err, out)
				}
				e.waitStopped(t, id)
				ok := m.waitFor(t, 5*time.Second, "a finding for the exited init", func(l []map[string]any) bool {
					got = findingsOf(l, id)
					return got["keyctl"] != nil
				})
				e.Cmd(b.Dir, "delete", "--force", id).Run()
				if ok {
					break
				}
				t.Logf("attempt %d: no finding yet; retrying", attempt)
				time.Sleep(time.Second)
			}
			if f := got["keyctl"]; f == nil || f["action"] != "denied" {
				t.Fatalf("no denied keyctl finding for the container whose init exited; monitor output:\n%s", dump(m.lines(t)))
			}
		})
	}
}
