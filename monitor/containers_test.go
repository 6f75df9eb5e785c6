package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeProc is /proc for made-up processes.
type fakeProc struct {
	ns      map[int]uint64
	cgroups map[int]map[string]string
	start   map[int]string
}

func (p *fakeProc) PidNS(pid int) (uint64, error) {
	if n, ok := p.ns[pid]; ok {
		return n, nil
	}
	return 0, os.ErrNotExist
}

func (p *fakeProc) Cgroups(pid int) (map[string]string, error) {
	if c, ok := p.cgroups[pid]; ok {
		return c, nil
	}
	return nil, os.ErrNotExist
}

func (p *fakeProc) StartTime(pid int) (string, error) {
	if s, ok := p.start[pid]; ok {
		return s, nil
	}
	return "", os.ErrNotExist
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o700)
	data, _ := json.Marshal(v)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

const hostNS = 4026531836

// fixture lays out a runc root and a crun root with containers as the
// runtimes write them, and a /proc where they run.
func fixture(t *testing.T) (*Registry, *fakeProc, string, string) {
	dir := t.TempDir()
	runcRoot, crunRoot := filepath.Join(dir, "runc"), filepath.Join(dir, "crun")
	bundle := func(name string, ann map[string]string, seccomp any) string {
		b := filepath.Join(dir, "bundles", name)
		spec := map[string]any{"ociVersion": "1.0.2", "annotations": ann}
		if seccomp != nil {
			spec["linux"] = map[string]any{"seccomp": seccomp}
		}
		writeJSON(t, filepath.Join(b, "config.json"), spec)
		return b
	}
	profile := map[string]any{
		"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
		"syscalls": []any{
			map[string]any{"names": []string{"read", "write"}, "action": "SCMP_ACT_ALLOW"},
			map[string]any{"names": []string{"clone3"}, "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
			map[string]any{"names": []string{"personality"}, "action": "SCMP_ACT_ALLOW", "args": []any{map[string]any{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}}},
		},
	}
	// A CRI container secrun confined, on runc: annotations in the labels.
	web := bundle("web", map[string]string{
		"secrun.io/policy": "runtime-default/enforce", annNamespace: "shop", annPod: "web-0", annContainerName: "nginx", annContainerType: "container",
	}, profile)
	writeJSON(t, filepath.Join(runcRoot, "web", "state.json"), map[string]any{
		"id": "web", "init_process_pid": 100, "init_process_start": 5000,
		"config": map[string]any{"labels": []string{
			"io.kubernetes.cri.sandbox-namespace=shop", "io.kubernetes.cri.sandbox-name=web-0",
			"io.kubernetes.cri.container-name=nginx", "secrun.io/policy=runtime-default/enforce", "bundle=" + web,
		}},
	})
	// A container secrun did not confine.
	plain := bundle("plain", map[string]string{annNamespace: "shop"}, nil)
	writeJSON(t, filepath.Join(runcRoot, "plain", "state.json"), map[string]any{
		"id": "plain", "init_process_pid": 200, "init_process_start": 6000,
		"config": map[string]any{"labels": []string{"io.kubernetes.cri.sandbox-namespace=shop", "bundle=" + plain}},
	})
	// crun: status file, and the spec copy next to it.
	db := bundle("db", nil, nil)
	writeJSON(t, filepath.Join(crunRoot, "db", "status"), map[string]any{"pid": 300, "process-start-time": 7000, "bundle": db, "cgroup-path": "/db"})
	writeJSON(t, filepath.Join(crunRoot, "db", "config.json"), map[string]any{"annotations": map[string]string{
		"secrun.io/policy": "runtime-default/complain", annContainerName: "postgres",
	}})
	// A hostPID container: its pid namespace is the host's.
	hp := bundle("hostpid", map[string]string{"secrun.io/policy": "x/enforce"}, nil)
	writeJSON(t, filepath.Join(runcRoot, "hostpid", "state.json"), map[string]any{
		"id": "hostpid", "init_process_pid": 400, "init_process_start": 8000,
		"config": map[string]any{"labels": []string{"bundle=" + hp}},
	})
	proc := &fakeProc{
		ns: map[int]uint64{1: hostNS, 100: 11, 101: 11, 200: 22, 300: 33, 301: 33, 400: hostNS, 401: hostNS, 999: hostNS, 555: 55},
		cgroups: map[int]map[string]string{
			1: {"0::": "/"}, 999: {"0::": "/system.slice/sshd.service"},
			100: {"0::": "/kubepods/pod1/web"}, 101: {"0::": "/kubepods/pod1/web/sub"},
			200: {"0::": "/plain"}, 300: {"0::": "/db"}, 301: {"0::": "/db"},
			400: {"0::": "/hostpid"}, 401: {"0::": "/hostpid"}, 555: {"0::": "/elsewhere"},
			// A zombie of the web container: no namespaces, cgroups left.
			102: {"0::": "/kubepods/pod1/web"},
		},
		start: map[int]string{100: "5000", 200: "6000", 300: "7000", 400: "8000"},
	}
	r := NewRegistry([]string{runcRoot, filepath.Join(dir, "cr*")})
	r.proc = proc
	r.hostPidNS = hostNS
	// The fixture's start times (5000 ticks...) count from long ago.
	r.boot = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	return r, proc, runcRoot, crunRoot
}

func TestAttribute(t *testing.T) {
	r, proc, runcRoot, _ := fixture(t)
	r.Refresh()
	cases := []struct {
		pid      int
		id, why  string
		policy   string
		ns, name string
	}{
		{pid: 100, id: "web", policy: "runtime-default/enforce", ns: "shop", name: "nginx"},
		{pid: 101, id: "web", policy: "runtime-default/enforce", ns: "shop", name: "nginx"},
		{pid: 102, id: "web", policy: "runtime-default/enforce", ns: "shop", name: "nginx"},
		{pid: 200, id: "plain", ns: "shop"},
		{pid: 301, id: "db", policy: "runtime-default/complain", name: "postgres"},
		{pid: 401, id: "hostpid", policy: "x/enforce"},
		{pid: 999, why: "host"},
		{pid: 555, why: "unknown"},
		{pid: 12345, why: "exited"},
	}
	for _, c := range cases {
		a := r.Attribute(c.pid)
		if c.id == "" {
			if a.Container != nil || a.Why != c.why {
				t.Errorf("pid %d: got %+v, want %s", c.pid, a.Container, c.why)
			}
			continue
		}
		if a.Container == nil {
			t.Errorf("pid %d: not attributed (%s), want %s", c.pid, a.Why, c.id)
			continue
		}
		got := a.Container
		if got.ID != c.id || got.Policy != c.policy || got.Namespace != c.ns || got.Name != c.name {
			t.Errorf("pid %d: got %s policy=%q ns=%q name=%q", c.pid, got.ID, got.Policy, got.Namespace, got.Name)
		}
	}
	// Runtimes told apart, bundles found.
	for _, c := range r.Snapshot() {
		want := map[string]string{"web": "runc", "db": "crun", "plain": "runc", "hostpid": "runc"}[c.ID]
		if c.Runtime != want {
			t.Errorf("%s: runtime %s, want %s", c.ID, c.Runtime, want)
		}
	}

	// The errno of a denied call comes from the container's profile.
	web := r.Attribute(100).Container
	for name, want := range map[string]int{"keyctl": 1, "clone3": 38, "personality": 1} {
		if e, ok := web.ErrnoFor(name); !ok || e != want {
			t.Errorf("ErrnoFor(%s) = %d %v, want %d", name, e, ok, want)
		}
	}

	// A container deleted right after its record is still attributed from
	// the cache while its processes live.
	recordAt := time.Now()
	os.RemoveAll(filepath.Join(runcRoot, "web"))
	r.Refresh()
	if a := r.AttributeAt(101, recordAt); a.Container == nil || a.Container.ID != "web" {
		t.Errorf("deleted container not attributed from the cache: %+v", a)
	}
	// ... until it has been gone longer than Retain.
	r.now = func() time.Time { return time.Now().Add(time.Hour) }
	r.Refresh()
	if a := r.Attribute(101); a.Container != nil {
		t.Errorf("container gone an hour still attributed: %s", a.Container.ID)
	}

	// A new container found on a miss, without waiting for a refresh.
	r.now = time.Now
	writeJSON(t, filepath.Join(runcRoot, "late", "state.json"), map[string]any{
		"id": "late", "init_process_pid": 600, "init_process_start": 9000,
		"config": map[string]any{"labels": []string{"secrun.io/policy=p/enforce"}},
	})
	proc.ns[600], proc.cgroups[600], proc.start[600] = 66, map[string]string{"0::": "/late"}, "9000"
	r.lastRefresh = time.Time{}
	if a := r.Attribute(600); a.Container == nil || a.Container.ID != "late" {
		t.Errorf("new container not found on a miss: %+v", a)
	}
	// A reused pid (another start time) is not the container's init.
	writeJSON(t, filepath.Join(runcRoot, "reused", "state.json"), map[string]any{
		"id": "reused", "init_process_pid": 700, "init_process_start": 1,
		"config": map[string]any{"labels": []string{"secrun.io/policy=p/enforce"}},
	})
	proc.ns[700], proc.cgroups[700], proc.start[700] = 77, map[string]string{"0::": "/other"}, "424242"
	r.Refresh()
	if a := r.Attribute(700); a.Container != nil {
		t.Errorf("reused pid attributed to %s", a.Container.ID)
	}
}

// TestPipeline feeds a saved kernel log through the monitor.
func TestPipeline(t *testing.T) {
	r, _, _, _ := fixture(t)
	rec := func(seq, serial, pid int, nr int, code string) string {
		return fmt.Sprintf(`5,%d,%d,-;audit: type=1326 audit(1795773997.%03d:%d): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=%d comm="probe" exe="/bin/probe" sig=0 arch=c000003e syscall=%d compat=0 ip=0x7f code=%s`,
			seq, 1000+seq, seq%1000, serial, pid, nr, code)
	}
	lines := []string{
		"6,10,100,-;EXT4-fs (vda): mounted filesystem",
		rec(11, 50, 100, 250, "0x7ffc0000"), // web: keyctl logged
		rec(12, 51, 101, 272, "0x50000"),    // web: unshare denied, EPERM from the profile
		rec(13, 52, 200, 250, "0x50000"),    // plain runc: ignored
		rec(14, 53, 999, 250, "0x7ffc0000"), // host: ignored
		rec(15, 54, 31337, 250, "0x50000"),  // exited: unattributed
		"4,16,2000,-;kauditd_printk_skb: 4990 callbacks suppressed",
		rec(17, 5045, 301, 250, "0x7ffc0000"), // db on crun; 4990 serials skipped
		"4,18,2001,-;audit: audit_lost=3 audit_rate_limit=0 audit_backlog_limit=64",
		"4,19,2002,-;net_ratelimit: 9 callbacks suppressed",
		"5,20,2003,-;audit: type=1326 audit(1795773997.001:5046): pid=100 garbage",
		rec(21, 5047, 100, 435, "0x50000"), // web: clone3 ENOSYS, libc falls back: not a denial
	}
	path := filepath.Join(t.TempDir(), "kmsg")
	os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	src, err := openKmsg(path)
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	m := newMonitor(Options{Kmsg: path, Roots: r.Roots}, r, &errb)
	m.auditLostPoll = func() (uint32, error) { return 1, nil } // 1 lost before the start
	var out bytes.Buffer
	if err := m.run(context.Background(), src, &out); err != nil {
		t.Fatal(err)
	}
	var findings []Finding
	var lost []Lost
	var stats Stats
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var typ struct{ Type string }
		json.Unmarshal([]byte(l), &typ)
		switch typ.Type {
		case "finding", "unattributed":
			var f Finding
			json.Unmarshal([]byte(l), &f)
			findings = append(findings, f)
		case "lost":
			var x Lost
			json.Unmarshal([]byte(l), &x)
			lost = append(lost, x)
		case "stats":
			json.Unmarshal([]byte(l), &stats)
		case "start":
		default:
			t.Errorf("unexpected line %s", l)
		}
	}
	want := []string{
		"finding web shop web-0 nginx keyctl logged  100",
		"finding web shop web-0 nginx unshare denied EPERM 101",
		"unattributed     keyctl denied  31337",
		"finding db   postgres keyctl logged  301",
		"finding web shop web-0 nginx clone3 compat ENOSYS 100",
	}
	var got []string
	for _, f := range findings {
		got = append(got, fmt.Sprintf("%s %s %s %s %s %s %s %s %d", f.Type, f.ContainerID, f.Namespace, f.Pod, f.Container, f.Syscall, f.Action, f.Errno, f.Pid))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s\nout:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out.String())
	}
	if len(lost) != 2 || lost[0].Reason != LostPrintk || lost[0].Count != 4990 || lost[1].Reason != LostAudit || lost[1].Count != 2 {
		t.Errorf("lost lines: %+v", lost)
	}
	if !stats.Final || stats.Records != 8 || stats.Findings != 4 || stats.SerialGap != 4990 || stats.ParseErrors != 1 ||
		stats.Ignored["not_secrun"] != 1 || stats.Ignored["host"] != 1 || stats.Ignored["exited"] != 1 ||
		stats.Lost[LostPrintk] != 4990 || stats.Lost[LostAudit] != 2 {
		t.Errorf("stats: %+v", stats)
	}
	if f := findings[0]; f.Time != "2026-11-27T10:06:37.011Z" || f.Arch != "SCMP_ARCH_X86_64" || f.SyscallNr != 250 || f.Runtime != "runc" || f.Policy != "runtime-default/enforce" || f.Comm != "probe" || f.Exe != "/bin/probe" {
		t.Errorf("finding fields: %+v", f)
	}
}

// Pid namespace inodes and pids are reused: a record made after a container
// was gone is not its, while a record its init made just before exiting is.
func TestAttributeLifetimes(t *testing.T) {
	r, proc, runcRoot, _ := fixture(t)
	state := func(id string, pid int, start int) {
		writeJSON(t, filepath.Join(runcRoot, id, "state.json"), map[string]any{
			"id": id, "init_process_pid": pid, "init_process_start": start,
			"config": map[string]any{"labels": []string{"secrun.io/policy=p/enforce"}},
		})
	}
	state("old", 800, 100)
	proc.ns[800], proc.cgroups[800], proc.start[800] = 88, map[string]string{"0::": "/old"}, "100"
	r.Refresh()
	if a := r.Attribute(800); a.Container == nil || a.Container.ID != "old" {
		t.Fatalf("old not attributed: %+v", a)
	}

	// old's init exits (its pid namespace is freed) but no rescan has
	// happened yet; a new container's process gets the same inode number.
	delete(proc.ns, 800)
	delete(proc.cgroups, 800)
	delete(proc.start, 800)
	proc.ns[900], proc.cgroups[900] = 88, map[string]string{"0::": "/new/app"}
	r.lastRefresh = time.Now() // no rescan on the miss
	if a := r.Attribute(900); a.Container != nil {
		t.Errorf("a reused pid namespace inode attributed to %s, whose init is gone", a.Container.ID)
	}
	// Once a rescan has seen old gone, a record made later is never its,
	// even by cgroup.
	os.RemoveAll(filepath.Join(runcRoot, "old"))
	r.Refresh()
	proc.cgroups[900] = map[string]string{"0::": "/old"}
	if a := r.AttributeAt(900, time.Now().Add(time.Second)); a.Container != nil {
		t.Errorf("a record made after old was gone attributed to %s", a.Container.ID)
	}

	// A container whose one process made the call and exited: the record
	// reaches the monitor after the process is gone.
	state("short", 850, 200)
	proc.ns[850], proc.cgroups[850], proc.start[850] = 85, map[string]string{"0::": "/short"}, "200"
	r.Refresh()
	madeAt := time.Now()
	delete(proc.ns, 850)
	delete(proc.cgroups, 850)
	delete(proc.start, 850)
	if a := r.AttributeAt(850, madeAt); a.Container == nil || a.Container.ID != "short" {
		t.Errorf("exited init not attributed to its container: %+v", a)
	}
	// ... also once its state is gone, for a record made before that.
	os.RemoveAll(filepath.Join(runcRoot, "short"))
	r.Refresh()
	if a := r.AttributeAt(850, madeAt); a.Container == nil || a.Container.ID != "short" {
		t.Errorf("exited init of a deleted container: %+v", a)
	}
	// A later record of that pid (reused by a host process) is not.
	if a := r.AttributeAt(850, time.Now().Add(time.Second)); a.Container != nil || a.Why != "exited" {
		t.Errorf("reused pid attributed: %+v", a)
	}
	// Nor a record made before a container started (its pid was another
	// process's then).
	before := r.boot.Add(200*time.Second/100 - time.Minute)
	state("late", 860, 200)
	proc.ns[860], proc.cgroups[860], proc.start[860] = 86, map[string]string{"0::": "/late"}, "200"
	r.Refresh()
	delete(proc.ns, 860)
	delete(proc.cgroups, 860)
	if a := r.AttributeAt(860, before); a.Container != nil {
		t.Errorf("a record older than the container attributed to %s", a.Container.ID)
	}
}
