package monitor

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/spec"
)

// CRI annotations containerd writes into every spec.
const (
	annNamespace     = "io.kubernetes.cri.sandbox-namespace"
	annPod           = "io.kubernetes.cri.sandbox-name"
	annContainerName = "io.kubernetes.cri.container-name"
	annContainerType = "io.kubernetes.cri.container-type"
)

// defaultRoots are the runtime state directories searched for containers:
// containerd's per-namespace runc roots, Docker's, and the runtimes' own
// defaults. Entries may be glob patterns.
var defaultRoots = []string{
	"/run/containerd/runc/*",
	"/run/docker/runtime-runc/*",
	"/run/runc",
	"/run/crun",
}

// Container is a running (or recently seen) container.
type Container struct {
	ID, Runtime, Root, Bundle string
	// InitPid is the container's init process; PidNS the inode of its pid
	// namespace; Cgroups its cgroup paths by hierarchy ("0" is cgroup v2's).
	InitPid int
	PidNS   uint64
	Cgroups map[string]string
	// Annotations come from the runtime's state and the bundle's config.json.
	Annotations map[string]string
	// Policy is the secrun.io/policy annotation; empty when secrun did not
	// confine the container.
	Policy                        string
	Namespace, Pod, Name, CtrType string
	// Seccomp is the profile in the container's spec, if it could be read.
	Seccomp *specs.LinuxSeccomp

	started  string // the runtime's record of when init started, against pid reuse
	lastSeen time.Time
	live     bool
	// born is when init started (zero if unknown); gone when a rescan
	// first missed the container (zero while it is there). A record is the
	// container's only if it was made between the two: pid namespace
	// inodes and pids are reused once a container is gone.
	born, gone time.Time
}

// bornSlack absorbs the coarseness of born (clock ticks, and the boot time
// they count from).
const bornSlack = 2 * time.Second

// lived reports whether the container existed at time at.
func (c *Container) lived(at time.Time) bool {
	if !c.gone.IsZero() && at.After(c.gone) {
		return false
	}
	return c.born.IsZero() || !at.Before(c.born.Add(-bornSlack))
}

// Secrun reports whether secrun confined the container.
func (c *Container) Secrun() bool { return c.Policy != "" }

// procReader reads /proc; tests replace it.
type procReader interface {
	PidNS(pid int) (uint64, error)
	Cgroups(pid int) (map[string]string, error)
	StartTime(pid int) (string, error)
}

type realProc struct{ root string }

func (p realProc) path(pid int, name string) string {
	return filepath.Join(p.root, strconv.Itoa(pid), name)
}

func (p realProc) PidNS(pid int) (uint64, error) {
	l, err := os.Readlink(p.path(pid, "ns/pid"))
	if err != nil {
		return 0, err
	}
	return parseNSLink(l)
}

// parseNSLink parses "pid:[4026531836]".
func parseNSLink(l string) (uint64, error) {
	i, j := strings.IndexByte(l, '['), strings.IndexByte(l, ']')
	if i < 0 || j < i {
		return 0, fmt.Errorf("namespace link %q", l)
	}
	return strconv.ParseUint(l[i+1:j], 10, 64)
}

func (p realProc) Cgroups(pid int) (map[string]string, error) {
	data, err := os.ReadFile(p.path(pid, "cgroup"))
	if err != nil {
		return nil, err
	}
	return parseCgroups(string(data)), nil
}

// parseCgroups parses /proc/PID/cgroup ("ID:CONTROLLERS:PATH" lines) into
// PATH by ID.
func parseCgroups(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 {
			out[parts[0]+":"+parts[1]] = parts[2]
		}
	}
	return out
}

// StartTime returns field 22 of /proc/PID/stat, the start time in clock
// ticks since boot that runc and crun record for the container's init.
func (p realProc) StartTime(pid int) (string, error) {
	data, err := os.ReadFile(p.path(pid, "stat"))
	if err != nil {
		return "", err
	}
	s := string(data)
	// comm may hold spaces and parentheses: fields start after the last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("%s: malformed", p.path(pid, "stat"))
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return "", fmt.Errorf("%s: malformed", p.path(pid, "stat"))
	}
	return f[19], nil
}

// Registry finds containers under runtime roots and attributes processes
// to them. It keeps containers it has seen for a while after they are
// gone, so that a record read after its container was deleted is still
// attributed.
type Registry struct {
	Roots []string
	// Retain is how long a container that disappeared stays in the cache.
	Retain time.Duration
	// MinRefresh limits how often a miss triggers a rescan.
	MinRefresh time.Duration

	proc        procReader
	now         func() time.Time
	boot        time.Time // what process start times count from
	hostPidNS   uint64
	mu          sync.Mutex
	containers  map[string]*Container // by root + "\x00" + id
	lastRefresh time.Time
	Errors      func(error)
}

// NewRegistry returns a registry over roots (glob patterns allowed).
func NewRegistry(roots []string) *Registry {
	r := &Registry{
		Roots: roots, Retain: 10 * time.Minute, MinRefresh: 50 * time.Millisecond,
		proc: realProc{root: "/proc"}, now: time.Now, boot: bootedAt(), containers: map[string]*Container{},
	}
	// The monitor's own pid namespace is the host's: audit records carry
	// pids of the initial namespace, and /proc must show them. (Reading
	// pid 1's link can fail where init is not dumpable.)
	if l, err := os.Readlink("/proc/self/ns/pid"); err == nil {
		r.hostPidNS, _ = parseNSLink(l)
	}
	return r
}

// Refresh rescans the roots.
func (r *Registry) Refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refreshLocked()
}

func (r *Registry) refreshLocked() {
	now := r.now()
	r.lastRefresh = now
	for _, c := range r.containers {
		c.live = false
	}
	defer func() {
		for _, c := range r.containers {
			if c.live {
				c.gone = time.Time{}
			} else if c.gone.IsZero() {
				c.gone = now
			}
		}
	}()
	for _, pattern := range r.Roots {
		roots, err := filepath.Glob(pattern)
		if err != nil {
			roots = []string{pattern}
		}
		for _, root := range roots {
			entries, err := os.ReadDir(root)
			if err != nil {
				continue
			}
			for _, e := range entries {
				if !e.IsDir() {
					continue
				}
				r.loadLocked(root, e.Name(), now)
			}
		}
	}
	for k, c := range r.containers {
		if !c.live && now.Sub(c.lastSeen) > r.Retain {
			delete(r.containers, k)
		}
	}
}

// runcState is the part of runc's state.json the monitor reads.
type runcState struct {
	ID        string          `json:"id"`
	InitPid   int             `json:"init_process_pid"`
	InitStart json.RawMessage `json:"init_process_start"`
	Config    struct {
		Labels []string `json:"labels"`
	} `json:"config"`
}

// crunStatus is the part of crun's status file the monitor reads.
type crunStatus struct {
	Pid       int             `json:"pid"`
	StartTime json.RawMessage `json:"process-start-time"`
	Bundle    string          `json:"bundle"`
}

func (r *Registry) loadLocked(root, id string, now time.Time) {
	dir := filepath.Join(root, id)
	key := root + "\x00" + id
	c := &Container{ID: id, Root: root, Annotations: map[string]string{}}
	if data, err := os.ReadFile(filepath.Join(dir, "state.json")); err == nil {
		var st runcState
		if err := json.Unmarshal(data, &st); err != nil {
			r.report(fmt.Errorf("%s: %v", filepath.Join(dir, "state.json"), err))
			return
		}
		c.Runtime, c.InitPid, c.started = "runc", st.InitPid, strings.Trim(string(st.InitStart), `"`)
		// runc keeps the spec's annotations as "key=value" labels, with
		// "bundle=PATH" among them.
		for _, l := range st.Config.Labels {
			k, v, _ := strings.Cut(l, "=")
			if k == "bundle" {
				c.Bundle = v
				continue
			}
			c.Annotations[k] = v
		}
	} else if data, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		var st crunStatus
		if err := json.Unmarshal(data, &st); err != nil {
			r.report(fmt.Errorf("%s: %v", filepath.Join(dir, "status"), err))
			return
		}
		c.Runtime, c.InitPid, c.Bundle, c.started = "crun", st.Pid, st.Bundle, strings.Trim(string(st.StartTime), `"`)
	} else {
		return
	}
	if old, ok := r.containers[key]; ok && old.InitPid == c.InitPid && old.started == c.started {
		// Known container: the bundle was read when it was found.
		old.live, old.lastSeen = true, now
		if old.PidNS == 0 {
			r.probeInitLocked(old)
		}
		return
	}
	// The spec: crun keeps a copy of the one it ran next to its status;
	// otherwise the bundle's.
	for _, p := range []string{filepath.Join(dir, "config.json"), filepath.Join(c.Bundle, "config.json")} {
		if c.Bundle == "" && p == "config.json" {
			continue
		}
		if err := readSpec(p, c); err == nil {
			break
		}
	}
	c.Policy = c.Annotations[spec.AnnPolicy]
	c.Namespace, c.Pod = c.Annotations[annNamespace], c.Annotations[annPod]
	c.Name, c.CtrType = c.Annotations[annContainerName], c.Annotations[annContainerType]
	c.live, c.lastSeen = true, now
	c.born = r.startedAt(c.started)
	r.probeInitLocked(c)
	r.containers[key] = c
}

// startedAt turns a start time in clock ticks since boot (USER_HZ, 100 on
// Linux) into wall-clock time; zero when unknown.
func (r *Registry) startedAt(ticks string) time.Time {
	n, err := strconv.ParseUint(ticks, 10, 64)
	if err != nil || n == 0 || r.boot.IsZero() {
		return time.Time{}
	}
	return r.boot.Add(time.Duration(n) * (time.Second / 100))
}

// bootedAt is the wall-clock time process start times count from.
func bootedAt() time.Time {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return time.Time{}
	}
	return time.Now().Add(-time.Duration(ts.Nano()))
}

// initAlive reports whether the container's init still runs (same pid,
// same start time): while it does, its pid namespace cannot have been
// freed and its inode number reused.
func (r *Registry) initAlive(c *Container) bool {
	if c.InitPid <= 0 {
		return false
	}
	if c.started != "" && c.started != "0" {
		st, err := r.proc.StartTime(c.InitPid)
		return err == nil && st == c.started
	}
	ns, err := r.proc.PidNS(c.InitPid)
	return err == nil && ns == c.PidNS
}

// probeInitLocked reads the init process's pid namespace and cgroups,
// after checking that the pid still names the container's init.
func (r *Registry) probeInitLocked(c *Container) {
	if c.InitPid <= 0 {
		return
	}
	if c.started != "" && c.started != "0" {
		if st, err := r.proc.StartTime(c.InitPid); err != nil || st != c.started {
			return
		}
	}
	ns, err := r.proc.PidNS(c.InitPid)
	if err != nil {
		return
	}
	cg, err := r.proc.Cgroups(c.InitPid)
	if err != nil {
		return
	}
	c.PidNS, c.Cgroups = ns, cg
}

// readSpec reads a container's annotations and seccomp profile from its
// OCI spec.
func readSpec(path string, c *Container) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var s struct {
		Annotations map[string]string `json:"annotations"`
		Linux       *struct {
			Seccomp *specs.LinuxSeccomp `json:"seccomp"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	for k, v := range s.Annotations {
		c.Annotations[k] = v
	}
	if s.Linux != nil {
		c.Seccomp = s.Linux.Seccomp
	}
	return nil
}

// ErrnoFor returns the errno the container's profile makes a denied
// syscall return. The kernel's record carries the action, not its errno,
// so it comes from the profile; ok is false when the profile is unknown or
// the errno depends on the call's arguments.
func (c *Container) ErrnoFor(name string) (int, bool) {
	p := c.Seccomp
	if p == nil {
		return 0, false
	}
	errnoOf := func(ret *uint) int {
		if ret == nil {
			return int(syscall.EPERM) // runc's and crun's default
		}
		return int(*ret)
	}
	seen := map[int]bool{}
	named, conditional := false, false
	for _, r := range p.Syscalls {
		if !slices.Contains(r.Names, name) {
			continue
		}
		named = true
		if len(r.Args) > 0 {
			conditional = true
		}
		if r.Action == specs.ActErrno {
			seen[errnoOf(r.ErrnoRet)] = true
		}
	}
	if (!named || conditional) && p.DefaultAction == specs.ActErrno {
		seen[errnoOf(p.DefaultErrnoRet)] = true
	}
	if len(seen) != 1 {
		return 0, false
	}
	for e := range seen {
		return e, true
	}
	return 0, false
}

func (r *Registry) report(err error) {
	if r.Errors != nil {
		r.Errors(err)
	}
}

// Attribution says where a process belongs.
type Attribution struct {
	Container *Container // nil when the process is not in a known container
	// Why is set when Container is nil: "host" (the host's pid namespace and
	// no container cgroup), "exited" (the process was gone before it could
	// be looked at), "unknown" (in a pid namespace of no container found
	// under the roots).
	Why string
}

// Attribute finds the container of a host pid now.
func (r *Registry) Attribute(pid int) Attribution {
	return r.AttributeAt(pid, r.now())
}

// AttributeAt finds the container of a host pid whose record was made at
// time at: only a container that existed then can be it. A miss rescans
// the roots (at most every MinRefresh) and tries again. A process already
// gone is its container's when it was the container's init (a container
// whose one process made the call and exited).
func (r *Registry) AttributeAt(pid int, at time.Time) Attribution {
	if at.IsZero() {
		at = r.now()
	}
	// A zombie has no namespaces left but still has its cgroups.
	ns, nsErr := r.proc.PidNS(pid)
	cg, cgErr := r.proc.Cgroups(pid)
	r.mu.Lock()
	defer r.mu.Unlock()
	if nsErr != nil && cgErr != nil {
		if c := r.byInitLocked(pid, at); c != nil {
			return Attribution{Container: c}
		}
		if r.now().Sub(r.lastRefresh) >= r.MinRefresh {
			r.refreshLocked()
			if c := r.byInitLocked(pid, at); c != nil {
				return Attribution{Container: c}
			}
		}
		return Attribution{Why: "exited"}
	}
	if c := r.matchLocked(ns, cg, at); c != nil {
		return Attribution{Container: c}
	}
	if r.now().Sub(r.lastRefresh) >= r.MinRefresh {
		r.refreshLocked()
		if c := r.matchLocked(ns, cg, at); c != nil {
			return Attribution{Container: c}
		}
	}
	if nsErr != nil {
		return Attribution{Why: "exited"}
	}
	if ns == r.hostPidNS {
		return Attribution{Why: "host"}
	}
	return Attribution{Why: "unknown"}
}

// byInitLocked finds the container whose init was pid at time at.
func (r *Registry) byInitLocked(pid int, at time.Time) *Container {
	var found *Container
	for _, c := range r.containers {
		if c.InitPid == pid && c.lived(at) && (found == nil || c.born.After(found.born)) {
			found = c
		}
	}
	return found
}

// matchLocked matches by pid namespace (containers in the host's pid
// namespace excluded), breaking ties and falling back on cgroups. Only
// containers that existed at time at take part, and a pid namespace alone
// counts only while the container's init runs: once it is gone, its
// namespace's inode number may belong to another container's namespace.
func (r *Registry) matchLocked(ns uint64, cg map[string]string, at time.Time) *Container {
	var byNS, lived []*Container
	for _, c := range r.containers {
		if !c.lived(at) {
			continue
		}
		lived = append(lived, c)
		if c.PidNS != 0 && c.PidNS == ns && ns != r.hostPidNS && (r.initAlive(c) || cgroupMatch(c.Cgroups, cg) > 0) {
			byNS = append(byNS, c)
		}
	}
	if len(byNS) == 1 {
		return byNS[0]
	}
	candidates := byNS
	if len(candidates) == 0 {
		candidates = lived
	}
	// The deepest cgroup of a container's init that holds the process.
	var best *Container
	bestLen := 0
	for _, c := range candidates {
		if n := cgroupMatch(c.Cgroups, cg); n > bestLen {
			best, bestLen = c, n
		}
	}
	if best != nil {
		return best
	}
	for _, c := range candidates {
		if cgroupNamesID(cg, c.ID) {
			return c
		}
	}
	if len(byNS) > 0 {
		// Containers sharing a pid namespace (a pod's shared process
		// namespace) that cgroups cannot tell apart: prefer a live one.
		for _, c := range byNS {
			if c.live {
				return c
			}
		}
		return byNS[0]
	}
	return nil
}

// cgroupMatch returns the length of the container's cgroup path that holds
// the process in some hierarchy, or 0.
func cgroupMatch(ctr, proc map[string]string) int {
	best := 0
	for h, p := range ctr {
		if p == "/" || p == "" {
			continue
		}
		q, ok := proc[h]
		if ok && (q == p || strings.HasPrefix(q, p+"/")) && len(p) > best {
			best = len(p)
		}
	}
	return best
}

// cgroupNamesID reports whether a component of a cgroup path names the
// container: ID, ID.scope, or PREFIX-ID.scope (systemd's cgroup driver).
func cgroupNamesID(cg map[string]string, id string) bool {
	for _, p := range cg {
		for _, comp := range strings.Split(p, "/") {
			if comp == id || comp == id+".scope" || strings.HasSuffix(comp, "-"+id+".scope") {
				return true
			}
		}
	}
	return false
}

// Snapshot lists the cached containers (for tests and debugging).
func (r *Registry) Snapshot() []Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Container
	for _, c := range r.containers {
		out = append(out, *c)
	}
	return out
}
