package monitor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/secrun/secrun/internal/atomicfile"
)

// Summary is what `secrun findings summarize` reports.
type Summary struct {
	Containers []*ContainerSummary `json:"containers"`
	// Unattributed counts records whose process was gone before the monitor
	// could tell its container, by syscall.
	Unattributed map[string]uint64 `json:"unattributed,omitempty"`
	// Lost sums the "lost" lines by reason: records never seen.
	Lost      map[string]uint64 `json:"lost"`
	LostTotal uint64            `json:"lost_total"`
	// BadLines counts lines that were not JSON objects.
	BadLines int `json:"bad_lines,omitempty"`
}

// ContainerSummary is one container's findings.
type ContainerSummary struct {
	ContainerID string           `json:"container_id"`
	Namespace   string           `json:"namespace,omitempty"`
	Pod         string           `json:"pod,omitempty"`
	Container   string           `json:"container,omitempty"`
	Policy      string           `json:"policy,omitempty"`
	First       string           `json:"first"`
	Last        string           `json:"last"`
	Syscalls    []*SyscallCounts `json:"syscalls"`
	// Patch is the rule that lets the logged calls run under the enforced
	// profile; nil when nothing was logged.
	Patch *specs.LinuxSyscall `json:"patch,omitempty"`
	// Unnamed lists syscall numbers libseccomp could not name (not in Patch).
	Unnamed []string `json:"unnamed,omitempty"`
}

// SyscallCounts counts one syscall's records.
type SyscallCounts struct {
	Name   string   `json:"name"`
	Arches []string `json:"arches"`
	Logged uint64   `json:"logged"`
	Denied uint64   `json:"denied"`
	Other  uint64   `json:"other,omitempty"`
	Errnos []string `json:"errnos,omitempty"`
}

const findingsUsage = `usage: secrun findings summarize [--json] [--profile FILE] FILE [FILE...]

Reads the JSON lines secrun monitor wrote (FILE may be "-" for stdin) and
prints, per container, the syscalls logged (complain mode) or denied, with
counts, and the seccomp rule that would let the logged calls run enforced.
--profile FILE also writes the logged calls of every container summarized as
an OCI seccomp profile (defaultAction SCMP_ACT_ERRNO, EPERM) that
"secrun profile merge ENFORCED.json FILE" takes as it is.
`

// FindingsMain runs `secrun findings ARGS` (args exclude "findings").
func FindingsMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "summarize" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, findingsUsage)
			return 0
		}
		fmt.Fprint(stderr, findingsUsage)
		return 2
	}
	fs := flag.NewFlagSet("secrun findings summarize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, findingsUsage); fs.PrintDefaults() }
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	profileOut := fs.String("profile", "", "also write the logged calls as an OCI seccomp profile to `FILE`")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "secrun findings summarize: no FILE given")
		fs.Usage()
		return 2
	}
	acc := newAccumulator()
	for _, name := range fs.Args() {
		var r io.Reader
		if name == "-" {
			r = os.Stdin
		} else {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintf(stderr, "secrun findings summarize: %v\n", err)
				return 1
			}
			defer f.Close()
			r = f
		}
		if err := acc.read(r); err != nil {
			fmt.Fprintf(stderr, "secrun findings summarize: %s: %v\n", name, err)
			return 1
		}
	}
	sum := acc.summary()
	if *profileOut != "" {
		data, err := json.MarshalIndent(PatchProfile(sum), "", "  ")
		if err == nil {
			err = atomicfile.Write(*profileOut, append(data, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "secrun findings summarize: %v\n", err)
			return 1
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			fmt.Fprintf(stderr, "secrun findings summarize: %v\n", err)
			return 1
		}
		return 0
	}
	WriteSummary(stdout, sum)
	return 0
}

type accumulator struct {
	containers   map[string]*ctrAcc
	unattributed map[string]uint64
	lost         map[string]uint64
	bad          int
}

type ctrAcc struct {
	sum      ContainerSummary
	syscalls map[string]*SyscallCounts
}

func newAccumulator() *accumulator {
	return &accumulator{containers: map[string]*ctrAcc{}, unattributed: map[string]uint64{}, lost: map[string]uint64{}}
}

// line is any line the monitor writes.
type line struct {
	Finding
	Count  uint64 `json:"count"`
	Reason string `json:"reason"`
}

func (a *accumulator) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l line
		if err := json.Unmarshal(b, &l); err != nil {
			a.bad++
			continue
		}
		switch l.Type {
		case "finding", "":
			if l.ContainerID == "" || l.Syscall == "" {
				if l.Type == "" {
					a.bad++
				}
				continue
			}
			a.add(&l.Finding)
		case "unattributed":
			a.unattributed[l.Syscall]++
		case "lost":
			a.lost[l.Reason] += l.Count
		}
	}
	return sc.Err()
}

func (a *accumulator) add(f *Finding) {
	c := a.containers[f.ContainerID]
	if c == nil {
		c = &ctrAcc{sum: ContainerSummary{ContainerID: f.ContainerID, First: f.Time, Last: f.Time}, syscalls: map[string]*SyscallCounts{}}
		a.containers[f.ContainerID] = c
	}
	s := &c.sum
	for _, kv := range [][2]*string{{&s.Namespace, &f.Namespace}, {&s.Pod, &f.Pod}, {&s.Container, &f.Container}, {&s.Policy, &f.Policy}} {
		if *kv[1] != "" {
			*kv[0] = *kv[1]
		}
	}
	if f.Time != "" && (s.First == "" || f.Time < s.First) {
		s.First = f.Time
	}
	if f.Time > s.Last {
		s.Last = f.Time
	}
	sc := c.syscalls[f.Syscall]
	if sc == nil {
		sc = &SyscallCounts{Name: f.Syscall}
		c.syscalls[f.Syscall] = sc
	}
	if f.Arch != "" && !slices.Contains(sc.Arches, f.Arch) {
		sc.Arches = append(sc.Arches, f.Arch)
		slices.Sort(sc.Arches)
	}
	switch {
	case f.Action == "logged":
		sc.Logged++
	case f.Action == "denied" && f.Errno != "ENOSYS":
		// ENOSYS (clone3) tells libc to fall back: "compat", not a denial
		// (older monitors wrote it as denied).
		sc.Denied++
		if f.Errno != "" && !slices.Contains(sc.Errnos, f.Errno) {
			sc.Errnos = append(sc.Errnos, f.Errno)
		}
	default:
		sc.Other++
	}
}

func (a *accumulator) summary() *Summary {
	out := &Summary{Lost: a.lost, BadLines: a.bad}
	if len(a.unattributed) > 0 {
		out.Unattributed = a.unattributed
	}
	for _, n := range a.lost {
		out.LostTotal += n
	}
	for _, c := range a.containers {
		s := c.sum
		var logged []string
		for _, sc := range c.syscalls {
			s.Syscalls = append(s.Syscalls, sc)
			if sc.Logged == 0 {
				continue
			}
			if strings.HasPrefix(sc.Name, "syscall_") {
				s.Unnamed = append(s.Unnamed, sc.Name)
				continue
			}
			logged = append(logged, sc.Name)
		}
		sort.Slice(s.Syscalls, func(i, j int) bool { return s.Syscalls[i].Name < s.Syscalls[j].Name })
		slices.Sort(s.Unnamed)
		if len(logged) > 0 {
			slices.Sort(logged)
			s.Patch = &specs.LinuxSyscall{Names: logged, Action: specs.ActAllow}
		}
		out.Containers = append(out.Containers, &s)
	}
	sort.Slice(out.Containers, func(i, j int) bool {
		a, b := out.Containers[i], out.Containers[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Pod != b.Pod {
			return a.Pod < b.Pod
		}
		if a.Container != b.Container {
			return a.Container < b.Container
		}
		return a.ContainerID < b.ContainerID
	})
	return out
}

// WriteSummary prints a summary for people.
func WriteSummary(w io.Writer, s *Summary) {
	if len(s.Containers) == 0 {
		fmt.Fprintln(w, "no findings")
	}
	for i, c := range s.Containers {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "container %s\n", c.ContainerID)
		var who []string
		for _, kv := range [][2]string{{"namespace", c.Namespace}, {"pod", c.Pod}, {"container", c.Container}, {"policy", c.Policy}} {
			if kv[1] != "" {
				who = append(who, kv[0]+" "+kv[1])
			}
		}
		if len(who) > 0 {
			fmt.Fprintf(w, "  %s\n", strings.Join(who, ", "))
		}
		fmt.Fprintf(w, "  from %s to %s\n", c.First, c.Last)
		width := len("SYSCALL")
		for _, sc := range c.Syscalls {
			width = max(width, len(sc.Name))
		}
		fmt.Fprintf(w, "  %-*s  %7s  %7s\n", width, "SYSCALL", "LOGGED", "DENIED")
		var denied []string
		for _, sc := range c.Syscalls {
			fmt.Fprintf(w, "  %-*s  %7d  %7d\n", width, sc.Name, sc.Logged, sc.Denied)
			if sc.Denied > 0 {
				d := sc.Name
				if len(sc.Errnos) > 0 {
					d += " (" + strings.Join(sc.Errnos, ",") + ")"
				}
				denied = append(denied, d)
			}
		}
		if c.Patch != nil {
			patch, _ := json.Marshal(c.Patch)
			fmt.Fprintf(w, "  profile patch (add to the profile's \"syscalls\" to let the logged calls run enforced):\n    %s\n", patch)
		}
		if len(c.Unnamed) > 0 {
			fmt.Fprintf(w, "  not in the patch, libseccomp could not name them: %s\n", strings.Join(c.Unnamed, ", "))
		}
		if len(denied) > 0 {
			fmt.Fprintf(w, "  denied (the workload saw these fail): %s\n", strings.Join(denied, ", "))
		}
	}
	if len(s.Unattributed) > 0 {
		var parts []string
		var n uint64
		for name, c := range s.Unattributed {
			parts = append(parts, fmt.Sprintf("%s %d", name, c))
			n += c
		}
		slices.Sort(parts)
		fmt.Fprintf(w, "\nunattributed: %d records whose process exited before the monitor could tell its container (%s)\n", n, strings.Join(parts, ", "))
	}
	if s.LostTotal > 0 {
		var parts []string
		for reason, n := range s.Lost {
			parts = append(parts, fmt.Sprintf("%s %d", reason, n))
		}
		slices.Sort(parts)
		fmt.Fprintf(w, "\nrecords lost on the node: %d (%s)\n  They may include records of the containers above: counts are lower bounds and a\n  syscall may be missing from a patch. Run the workload again, or lift the kernel's\n  printk rate limit while profiling (sysctl -w kernel.printk_ratelimit=0).\n", s.LostTotal, strings.Join(parts, ", "))
	}
	if s.BadLines > 0 {
		fmt.Fprintf(w, "\n%d lines were not findings JSON and were skipped\n", s.BadLines)
	}
}

// PatchProfile is the summary's patches as a profile of their own: every
// call logged in complain mode allowed outright, for the architectures it
// was logged on, and EPERM for the rest, as runtime-default and
// recordings deny. `secrun profile merge` unions it with the enforced
// profile; compat answers (clone3's ENOSYS) and denials are not in it.
func PatchProfile(s *Summary) *specs.LinuxSeccomp {
	eperm := uint(1)
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm, Syscalls: []specs.LinuxSyscall{}}
	names := map[string]bool{}
	for _, c := range s.Containers {
		if c.Patch == nil {
			continue
		}
		for _, n := range c.Patch.Names {
			names[n] = true
		}
		for _, sc := range c.Syscalls {
			if sc.Logged == 0 || !names[sc.Name] {
				continue
			}
			for _, a := range sc.Arches {
				if !slices.Contains(p.Architectures, specs.Arch(a)) {
					p.Architectures = append(p.Architectures, specs.Arch(a))
				}
			}
		}
	}
	if len(names) > 0 {
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		slices.Sort(list)
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: list, Action: specs.ActAllow})
	}
	slices.Sort(p.Architectures)
	return p
}
