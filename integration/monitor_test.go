package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The monitor reads the kernel's seccomp records (audit type 1326) from the
// audit netlink multicast group (--source audit, the default) or from
// /dev/kmsg (--source kmsg). In the kernel log printk lets 10 of them through
// every 5 seconds (kernel.printk_ratelimit{,_burst}) for the whole node, and
// other tests may use that budget too: a check for a finding retries with a
// new container rather than trusting one record to get through.

// monitorBinary is secrun itself: `secrun monitor` and `secrun findings`.
func monitorBinary(t *testing.T) string { return secrun }

// runningMonitor is a `secrun monitor` subprocess writing to a file.
type runningMonitor struct {
	cmd    *exec.Cmd
	out    string
	stderr bytes.Buffer
	done   chan error
}

// startMonitor starts `secrun monitor --source SOURCE` ("auto" for the
// default) finding containers under roots.
func startMonitor(t *testing.T, source string, roots ...string) *runningMonitor {
	t.Helper()
	m := &runningMonitor{out: filepath.Join(t.TempDir(), "findings.jsonl"), done: make(chan error, 1)}
	args := []string{"monitor", "--output", m.out, "--roots", strings.Join(roots, ","), "--stats-interval", "1s"}
	if source != "auto" {
		args = append(args, "--source", source)
	}
	m.cmd = exec.Command(monitorBinary(t), args...)
	m.cmd.Stderr = &m.stderr
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.done <- m.cmd.Wait() }()
	t.Cleanup(func() { m.stop(t) })
	// The "start" line: the source is open; records from now on are read.
	var start map[string]any
	if !m.waitFor(t, 10*time.Second, "the start line", func(lines []map[string]any) bool {
		if len(lines) > 0 && lines[0]["type"] == "start" {
			start = lines[0]
		}
		return start != nil
	}) {
		t.Fatalf("no start line: %s", m.stderr.String())
	}
	if want := map[string]string{"auto": "audit"}[source]; want != "" && start["source"] != want || source != "auto" && start["source"] != source {
		t.Fatalf("start line %v, want source %s (stderr: %s)", start, source, m.stderr.String())
	}
	return m
}

// stop sends SIGTERM and checks the monitor exits cleanly with a final
// stats line.
func (m *runningMonitor) stop(t *testing.T) {
	if m.cmd.ProcessState != nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-m.done:
		if err != nil {
			t.Errorf("monitor exited with %v: %s", err, m.stderr.String())
		}
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		t.Errorf("monitor did not stop on SIGTERM")
		<-m.done
		return
	}
	lines := m.lines(t)
	if len(lines) == 0 || lines[len(lines)-1]["type"] != "stats" || lines[len(lines)-1]["final"] != true {
		t.Errorf("no final stats line at exit")
	}
}

func (m *runningMonitor) alive() bool {
	return m.cmd.ProcessState == nil && m.cmd.Process.Signal(syscall.Signal(0)) == nil
}

func (m *runningMonitor) lines(t *testing.T) []map[string]any {
	t.Helper()
	f, err := os.Open(m.out)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			// The writer may be mid-line; only a complete line must parse.
			continue
		}
		out = append(out, v)
	}
	return out
}

func (m *runningMonitor) waitFor(t *testing.T, d time.Duration, what string, cond func([]map[string]any) bool) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond(m.lines(t)) {
			return true
		}
		if !m.alive() {
			t.Fatalf("monitor died waiting for %s: %s", what, m.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// findingsOf returns the findings naming a container: syscall -> action.
func findingsOf(lines []map[string]any, id string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, l := range lines {
		if l["type"] == "finding" && l["container_id"] == id {
			out[l["syscall"].(string)] = l
		}
	}
	return out
}

// lastStats returns the last stats line.
func lastStats(lines []map[string]any) map[string]any {
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i]["type"] == "stats" {
			return lines[i]
		}
	}
	return nil
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// supportsLogFlag: whether the runtime honours SECCOMP_FILTER_FLAG_LOG.
// runc 1.1 refuses any seccomp flag; runc >= 1.2 lists the flags it
// supports in `features`; crun has no `features` here and supports it.
func supportsLogFlag(rt Runtime) bool {
	out, err := exec.Command(rt.Path, "features").Output()
	if err != nil {
		return true
	}
	var f struct {
		Linux struct {
			Seccomp struct {
				SupportedFlags *[]string `json:"supportedFlags"`
			} `json:"seccomp"`
		} `json:"linux"`
	}
	if json.Unmarshal(out, &f) != nil || f.Linux.Seccomp.SupportedFlags == nil {
		return false
	}
	for _, fl := range *f.Linux.Seccomp.SupportedFlags {
		if fl == "SECCOMP_FILTER_FLAG_LOG" {
			return true
		}
	}
	return false
}

// TestMonitorComplain: complain mode lets keyctl and unshare(CLONE_NEWUSER)
// run, and the monitor names the container and the calls, "logged".
func TestMonitorComplain(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			e.WriteConfig(t, "[seccomp]\nmode = \"complain\"\n")
			m := startMonitor(t, "auto", e.Root)
			var got map[string]map[string]any
			for attempt := 1; attempt <= 3; attempt++ {
				id := fmt.Sprintf("mon-complain-%s-%d", rt.Name, attempt)
				out, err := e.Run(t, newBundle(t, "probe", "hold", "2", "keyctl", "unshare-user"), id)
				if err != nil {
					t.Fatal(err)
				}
				if f := fields(out); f["keyctl"] != "ok" || f["unshare-user"] != "ok" {
					t.Fatalf("complain mode denied a call:\n%s", out)
				}
				if m.waitFor(t, 5*time.Second, "findings", func(l []map[string]any) bool {
					got = findingsOf(l, id)
					return got["keyctl"] != nil && got["unshare"] != nil
				}) {
					break
				}
				t.Logf("attempt %d: findings %v (printk may have dropped the records); retrying after the rate-limit interval", attempt, got)
				time.Sleep(6 * time.Second)
			}
			for _, name := range []string{"keyctl", "unshare"} {
				f := got[name]
				if f == nil {
					t.Fatalf("no %s finding; monitor output:\n%s", name, dump(m.lines(t)))
				}
				if f["action"] != "logged" || f["seccomp_action"] != "log" || f["arch"] != "SCMP_ARCH_X86_64" ||
					f["comm"] != "probe" || f["exe"] != "/bin/probe" || num(f["pid"]) <= 0 ||
					!strings.HasSuffix(fmt.Sprint(f["policy"]), "/complain") {
					t.Errorf("%s finding: %v", name, f)
				}
				if _, err := time.Parse(time.RFC3339, f["time"].(string)); err != nil {
					t.Errorf("time: %v", err)
				}
			}
			if got["keyctl"]["syscall_nr"] != float64(250) {
				t.Errorf("keyctl syscall_nr = %v", got["keyctl"]["syscall_nr"])
			}

			// The summary's patch lets exactly these calls run enforced.
			m.stop(t)
			out, err := exec.Command(monitorBinary(t), "findings", "summarize", "--json", m.out).Output()
			if err != nil {
				t.Fatalf("findings summarize: %v", err)
			}
			var sum struct {
				Containers []struct {
					ContainerID string `json:"container_id"`
					Patch       *struct {
						Names  []string `json:"names"`
						Action string   `json:"action"`
					} `json:"patch"`
				} `json:"containers"`
			}
			if err := json.Unmarshal(out, &sum); err != nil {
				t.Fatalf("summary: %v\n%s", err, out)
			}
			found := false
			for _, c := range sum.Containers {
				if strings.HasPrefix(c.ContainerID, "mon-complain-"+rt.Name) && c.Patch != nil {
					found = true
					if strings.Join(c.Patch.Names, ",") != "keyctl,unshare" || c.Patch.Action != "SCMP_ACT_ALLOW" {
						t.Errorf("patch = %+v", c.Patch)
					}
				}
			}
			if !found {
				t.Errorf("no patch in the summary:\n%s", out)
			}
		})
	}
}

// TestMonitorEnforce: with [monitor] findings = true, secrun adds
// SECCOMP_FILTER_FLAG_LOG to the enforced profile, so a denial (keyctl ->
// EPERM) is recorded by the kernel and reported "denied".
func TestMonitorEnforce(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			e.WriteConfig(t, "[monitor]\nfindings = true\n")
			m := startMonitor(t, "auto", e.Root)
			flag := supportsLogFlag(rt)
			var got map[string]map[string]any
			for attempt := 1; attempt <= 3; attempt++ {
				id := fmt.Sprintf("mon-enforce-%s-%d", rt.Name, attempt)
				b := newBundle(t, "probe", "hold", "2", "keyctl", "getppid")
				out, err := e.Run(t, b, id)
				if err != nil {
					// A runtime that cannot honour the flag must still run
					// the container, confined, only without denial records.
					t.Fatalf("container did not run with [monitor] findings = true on %s: %v", rt.Name, err)
				}
				if f := fields(out); f["keyctl"] != "EPERM" || f["getppid"] != "ok" {
					t.Fatalf("enforce mode: %s", out)
				}
				if !flag {
					t.Logf("%s does not support SECCOMP_FILTER_FLAG_LOG: no denied findings expected", rt.Name)
					return
				}
				if m.waitFor(t, 5*time.Second, "a denied finding", func(l []map[string]any) bool {
					got = findingsOf(l, id)
					return got["keyctl"] != nil
				}) {
					break
				}
				t.Logf("attempt %d: no finding yet; retrying after the rate-limit interval", attempt)
				time.Sleep(6 * time.Second)
			}
			f := got["keyctl"]
			if f == nil {
				t.Fatalf("no denied keyctl finding; monitor output:\n%s", dump(m.lines(t)))
			}
			if f["action"] != "denied" || f["seccomp_action"] != "errno" || f["errno"] != "EPERM" || !strings.HasSuffix(fmt.Sprint(f["policy"]), "/enforce") {
				t.Errorf("finding: %v", f)
			}
			if got["getppid"] != nil {
				t.Errorf("an allowed call was reported: %v", got["getppid"])
			}
		})
	}
}

// TestMonitorIgnoresOthers: a container secrun did not confine (plain
// runtime, its own logging profile, no secrun.io/policy annotation) is seen
// by the monitor and produces no finding.
func TestMonitorIgnoresOthers(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			m := startMonitor(t, "auto", e.Root)
			var ids []string
			seen := false
			for attempt := 1; attempt <= 3 && !seen; attempt++ {
				id := fmt.Sprintf("mon-plain-%s-%d", rt.Name, attempt)
				ids = append(ids, id)
				b := newBundle(t, "probe", "hold", "2", "keyctl")
				b.Spec["linux"].(map[string]any)["seccomp"] = map[string]any{
					"defaultAction": "SCMP_ACT_ALLOW",
					"syscalls":      []any{map[string]any{"names": []string{"keyctl"}, "action": "SCMP_ACT_LOG"}},
				}
				b.Save(t)
				if out := e.Plain(t, b, id); fields(out)["keyctl"] != "ok" {
					t.Fatalf("plain container: %s", out)
				}
				// The record was read and set aside, not lost: it shows in
				// the stats as a container secrun did not confine.
				seen = m.waitFor(t, 4*time.Second, "the record", func(l []map[string]any) bool {
					s := lastStats(l)
					return s != nil && num(s["ignored"].(map[string]any)["not_secrun"]) >= 1
				})
				if !seen {
					time.Sleep(6 * time.Second)
				}
			}
			if !seen {
				t.Errorf("the plain container's record never reached the monitor:\n%s", dump(m.lines(t)))
			}
			for _, l := range m.lines(t) {
				for _, id := range ids {
					if l["container_id"] == id {
						t.Errorf("finding for a container secrun did not confine: %v", l)
					}
				}
			}
		})
	}
}

// TestMonitorBurst: 5000 denied keyctl calls from one container. From the
// audit multicast group every record arrives (or its loss is counted);
// from /dev/kmsg printk drops most of them. Either way the monitor keeps
// running and the findings plus the drops it reports account for all.
func TestMonitorBurst(t *testing.T) {
	for _, source := range []string{"audit", "kmsg"} {
		t.Run(source, func(t *testing.T) { testMonitorBurst(t, source) })
	}
}

func testMonitorBurst(t *testing.T, source string) {
	var rt Runtime
	for _, r := range runtimes() {
		if _, err := os.Stat(r.Path); err == nil && supportsLogFlag(r) {
			rt = r
			break
		}
	}
	if rt.Path == "" {
		t.Skip("no runtime supports SECCOMP_FILTER_FLAG_LOG")
	}
	const calls = 5000
	e := newEnv(t, rt)
	e.WriteConfig(t, "[monitor]\nfindings = true\n")
	m := startMonitor(t, source, e.Root)
	// After the burst, one more denied call every 6 s: printk reports how
	// many records it suppressed only when it next lets one through.
	b := newBundle(t, "sh", "-c", fmt.Sprintf("probe burst %d keyctl; while :; do sleep 6; probe sys keyctl >/dev/null; done", calls))
	id := "mon-burst-" + source
	outFile, err := e.Create(t, b, id)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Cmd(b.Dir, "delete", "--force", id).Run()
	if source == "kmsg" {
		// kauditd's printk budget (10 records per 5 s) is shared with the
		// tests before this one: let it refill, so the burst's first
		// records get through and the losses reported after them are its.
		time.Sleep(6 * time.Second)
	}
	if out, err := e.Cmd(b.Dir, "start", id).CombinedOutput(); err != nil {
		t.Fatalf("start: %v %s", err, out)
	}
	// Drops reported before the burst's first record are older events'.
	var findings, lost float64
	ok := m.waitFor(t, 60*time.Second, "findings + lost >= 5000", func(lines []map[string]any) bool {
		findings, lost = 0, 0
		for _, l := range lines {
			switch {
			case l["type"] == "finding" && l["container_id"] == id:
				findings++
			case l["type"] == "lost" && findings > 0:
				lost += num(l["count"])
			}
		}
		return findings+lost >= calls
	})
	data, _ := os.ReadFile(outFile)
	if !strings.Contains(string(data), fmt.Sprintf("burst keyctl %d ok=0 failed=%d errno=EPERM", calls, calls)) {
		t.Errorf("the burst was not denied: %s", data)
	}
	if !ok {
		t.Fatalf("findings (%v) + lost (%v) < %d: records went missing silently\n%s", findings, lost, calls, dump(m.lines(t)))
	}
	if findings == 0 {
		t.Errorf("no finding for the container")
	}
	if !m.alive() {
		t.Fatalf("monitor died: %s", m.stderr.String())
	}
	// The audit serials the monitor never saw are a second count that
	// needs no kernel message: every audit event takes one.
	m.stop(t)
	stats := lastStats(m.lines(t))
	t.Logf("findings %v, reported lost %v, final stats %v", findings, lost, stats)
	if n := num(stats["parse_errors"]); n != 0 {
		t.Errorf("parse errors: %v", n)
	}
	if gap := num(stats["audit_serial_gap"]); findings+gap < calls {
		t.Errorf("findings (%v) + audit serial gap (%v) < %d", findings, gap, calls)
	}
	// The kernel log's rate limit must show as drops, not silence.
	if rl, _ := os.ReadFile("/proc/sys/kernel/printk_ratelimit"); source == "kmsg" && strings.TrimSpace(string(rl)) != "0" {
		if num(stats["lost"].(map[string]any)["printk_ratelimit"]) == 0 {
			t.Errorf("printk is rate limited here, yet no printk_ratelimit loss was reported")
		}
	}
}

func dump(lines []map[string]any) string {
	var b strings.Builder
	for _, l := range lines {
		data, _ := json.Marshal(l)
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}
