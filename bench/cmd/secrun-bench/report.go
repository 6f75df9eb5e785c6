package main

import (
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type host struct {
	date, cpus, model, kernel, goHarness, secrunVersion, fs, specFrom string
	workPath, rootfsFS                                                string
	// How bin/secrun, the secrun-tools next to it ("" if none) and goexec
	// ("" if not given) were built (binaryInfo).
	secrunBin, toolsPath, toolsBin, goexecBin string
}

func hostInfo(o *options, h *harness) host {
	hi := host{
		date:      time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		cpus:      strconv.Itoa(runtime.NumCPU()),
		model:     "unknown CPU",
		goHarness: runtime.Version(),
		secrunBin: binaryInfo(h.secrun),
		fs:        fsType(h.work),
		workPath:  h.work,
		rootfsFS:  fsType(h.rootfsDir),
		specFrom:  fmt.Sprintf("`%s spec` (%s)", h.specFrom.Name, h.specFrom.Version),
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				hi.model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		var b strings.Builder
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			b.WriteByte(byte(c))
		}
		hi.kernel = b.String()
	}
	// secrun looks for secrun-tools next to itself first (shim.findTools).
	hi.toolsPath = filepath.Join(filepath.Dir(o.secrun), "secrun-tools")
	if fi, err := os.Stat(filepath.Join(filepath.Dir(h.secrun), "secrun-tools")); err == nil && fi.Mode().IsRegular() {
		hi.toolsBin = binaryInfo(filepath.Join(filepath.Dir(h.secrun), "secrun-tools"))
	}
	if h.goexec != "" {
		hi.goexecBin = binaryInfo(h.goexec)
	}
	cmd := exec.Command(h.secrun, "--version")
	cmd.Env = withEnv(h.env, "SECRUN_RUNTIME="+h.runtimes[0].Path)
	if out, err := cmd.Output(); err == nil {
		hi.secrunVersion, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}
	return hi
}

// binaryInfo says how an executable was built: pure Go or cgo, static or
// dynamic, which Go. For a process that starts on every container operation
// start-up is most of the cost, and cgo (libc's start-up, cgo's thread set-
// up) and the dynamic loader add to it. Whether cgo is linked in is read
// from the symbol table (runtime/cgo's x_cgo_init), not from CGO_ENABLED:
// CGO_ENABLED=1 links no cgo when no package needs it. A stripped binary
// falls back to CGO_ENABLED.
func binaryInfo(path string) string {
	var goVer, cgoEnv, tags string
	if bi, err := buildinfo.ReadFile(path); err == nil {
		goVer = bi.GoVersion
		for _, st := range bi.Settings {
			switch st.Key {
			case "CGO_ENABLED":
				cgoEnv = st.Value
			case "-tags":
				tags = st.Value
			}
		}
	}
	f, err := elf.Open(path)
	if err != nil {
		return "not a readable ELF binary"
	}
	defer f.Close()
	haveSyms, cgo, seccomp := false, false, false
	if syms, err := f.Symbols(); err == nil {
		haveSyms = true
		for _, s := range syms {
			switch s.Name {
			case "x_cgo_init":
				cgo = true
			case "seccomp_init":
				seccomp = true
			}
		}
	}
	kind := "pure Go"
	switch {
	case goVer == "":
		kind = "not a Go binary"
	case cgo:
		kind = "cgo"
	case !haveSyms && cgoEnv != "0":
		kind = "Go, cgo unknown (stripped)"
	}
	var build []string
	if cgoEnv != "" {
		build = append(build, "CGO_ENABLED="+cgoEnv)
	}
	if tags != "" {
		build = append(build, "tags "+tags)
	}
	if len(build) > 0 {
		kind += " (" + strings.Join(build, ", ") + ")"
	}
	parts := []string{kind}
	if seccomp {
		parts = append(parts, "links libseccomp")
	}
	link := "statically linked"
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			link = "dynamically linked"
		}
	}
	parts = append(parts, link)
	if goVer != "" {
		parts = append(parts, goVer)
	}
	return strings.Join(parts, ", ")
}

func fsType(path string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return "unknown"
	}
	switch uint64(st.Type) {
	case 0x01021994:
		return "tmpfs"
	case 0xef53:
		return "ext4"
	case 0x9123683e:
		return "btrfs"
	case 0x58465342:
		return "xfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("fs 0x%x", uint64(st.Type))
}

type report struct {
	opts      *options
	host      host
	loadStart string
	loadEnd   string
	alone     aloneResult
	mem       []*memRow
	create    []createResult
	pass      []passResult
	sys       []sysResult
	gobench   []goBench
	notes     []string
	runtimes  []runtimeInfo
	nodeFrom  string
	noopText  string
}

func f2(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func signed(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%+.2f", v)
}

func pct(d, base float64) string {
	if math.IsNaN(d) || base == 0 || math.IsNaN(base) {
		return "–"
	}
	return fmt.Sprintf("%+.1f%%", 100*d/base)
}

func mib(kib float64) string {
	if math.IsNaN(kib) || kib == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", kib/1024)
}

// verdict compares a difference of medians with a target, using the
// bootstrap interval; it reports, it does not assert.
func verdict(d, lo, hi, target float64) string {
	switch {
	case math.IsNaN(d):
		return "–"
	case !math.IsNaN(hi) && hi <= target:
		return "met"
	case !math.IsNaN(lo) && lo > target:
		return "**missed**"
	case math.IsNaN(lo) && d <= target:
		return "met (median; too few runs for an interval)"
	case math.IsNaN(lo):
		return "**missed** (median; too few runs for an interval)"
	case d <= target:
		return "met by the median; inconclusive (the interval reaches past the target)"
	default:
		return "missed by the median; inconclusive (the interval reaches below the target)"
	}
}

func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	o := r.opts
	hi := r.host
	w("## Benchmarks\n\n")
	w("Measured %s by `make bench` on %s × %s, kernel %s. ", hi.date, hi.cpus, hi.model, hi.kernel)
	w("%s: `%s`, the wrapper every measured call runs, is %s", orDash(hi.secrunVersion), o.secrun, hi.secrunBin)
	if hi.toolsBin != "" {
		w("; `%s` next to it is %s: secrun execs it only for the tool commands and for creates that start a recording agent, none of them measured here", hi.toolsPath, hi.toolsBin)
	} else {
		w("; no `%s` next to it (nothing measured here needs it)", hi.toolsPath)
	}
	if hi.goexecBin != "" {
		w("; `%s` (bench/goexec, the Go no-op exec wrapper) is %s", o.goexec, hi.goexecBin)
	}
	w(". Harness %s; bundles and runtime state on %s (`%s`), rootfs on %s. ", hi.goHarness, hi.fs, filepath.Dir(hi.workPath), hi.rootfsFS)
	w("Load average %s at the start, %s at the end. %d measured iterations after %d warm-up, variants interleaved in rotating order.\n\n",
		r.loadStart, r.loadEnd, o.n, o.warmup)
	w("| runtime | version | path |\n|---|---|---|\n")
	for _, rt := range r.runtimes {
		w("| %s | %s | `%s` |\n", rt.Name, rt.Version, rt.Path)
	}
	w("\nThe bundle is %s with busybox-static as a read-only rootfs, shaped like containerd's spec for a default pod and written as containerd writes it (compact JSON) "+
		"(the 14 stock capabilities, no seccomp, no no-new-privileges), with containerd's flags "+
		"(`--root R --log B/log.json --log-format json create --bundle B --pid-file B/init.pid ID`). "+
		"Default policy: %s; no-op policy: `%s`. "+
		"Times are wall clock from fork to exit as seen by `wait4`, in ms; `delete --force` after each create is not timed. "+
		"Command: `%s`.\n", hi.specFrom, r.nodeFrom, r.noopText, o.commandStr)

	gx := o.goexec != "" // the Go-floor variants were measured
	if len(r.create) > 0 {
		w("\n### Create latency (ms)\n\n")
		w("(a) the runtime on the original config; (b) secrun with the default policy (a fresh copy of the original config each time, copied outside the timed region); " +
			"(c) secrun with a no-op policy (no seccomp, no no-new-privileges, the stock 14 capabilities allowed, Pod Security checks off: start, parse, write, exec only); " +
			"(d) the runtime on the config (b) produced (what the profile costs the runtime)")
		if gx {
			w("; (g) the same as (d) through goexec, a Go program that does nothing but execve the runtime (what any Go wrapper costs here)")
		}
		w(".\n\n")
		e := o.nativeArch
		head := "| runtime | (a) plain median / p90 | (b) secrun median / p90 | (c) secrun no-op median / p90 | (d) plain, secrun's config median / p90 |"
		sep := "|---|---|---|---|---|"
		if gx {
			head += " (g) goexec → plain, secrun's config median / p90 |"
			sep += "---|"
		}
		if e {
			head += " (e) plain, secrun's config, native arch only |"
			sep += "---|"
		}
		head += " secrun / runtime, same final config (b / d) [95%] | b / d ≤ 1.05 |"
		sep += "---|---|"
		if gx {
			head += " goexec / runtime (g / d) [95%] |"
			sep += "---|"
		}
		w("%s\n%s\n", head, sep)
		for _, c := range r.create {
			ratio := func(x, y string) (float64, string) {
				rv := median(c.s.Wall[x]) / median(c.s.Wall[y])
				lo, hi := ratioCI(c.s.Wall[x], c.s.Wall[y])
				return rv, fmt.Sprintf("%.3f [%.3f … %.3f]", rv, lo, hi)
			}
			cell := func(k string) string {
				x := c.s.Wall[k]
				if len(x) == 0 {
					return "–"
				}
				return f2(median(x)) + " / " + f2(quantile(x, 0.9))
			}
			w("| %s | %s | %s | %s | %s |", c.rt.Name, cell("a"), cell("b"), cell("c"), cell("d"))
			if gx {
				w(" %s |", cell("g"))
			}
			if e {
				w(" %s |", cell("e"))
			}
			bd, bdText := ratio("b", "d")
			lo, hi := ratioCI(c.s.Wall["b"], c.s.Wall["d"])
			w(" %s | %s |", bdText, verdict(bd, lo, hi, 1.05))
			if gx {
				_, gdText := ratio("g", "d")
				w(" %s |", gdText)
			}
			w("\n")
		}
		w("\nb / d is the issue's target (at most 1.05 on runc 1.1 on this machine): the whole create through secrun over the runtime alone on the config secrun wrote; g / d is the same ratio for goexec, a wrapper that does nothing but exec, so b / d can be read against what any Go wrapper costs. Intervals are 95%% bootstrap intervals of the ratio of medians, iterations resampled as interleaved pairs.\n")
		w("\nDifferences of medians, ms (%% of the second), with a 95%% bootstrap interval (iterations resampled as interleaved pairs) and the median of the paired differences. " +
			"b − d is what secrun itself adds given the same final config (target from the issue: at most 1 ms); d − a is what Docker's profile costs the runtime")
		if gx {
			w("; g − d is a Go no-op exec wrapper's cost: the floor for any Go wrapper here; b − g is secrun's work beyond that floor (b − d = (g − d) + (b − g))")
		}
		w(".\n\n")
		head = "| runtime | b − a | c − a | d − a | b − d | b − d: 95% interval | b − d: paired median | b − d ≤ 1 ms |"
		sep = "|---|---|---|---|---|---|---|---|"
		if gx {
			head += " g − d: Go floor | g − d: 95% interval | b − g: secrun beyond the floor | b − g: 95% interval |"
			sep += "---|---|---|---|"
		}
		if e {
			head += " e − a |"
			sep += "---|"
		}
		w("%s\n%s\n", head, sep)
		for _, c := range r.create {
			d := func(x, y string) (float64, string) {
				mx, my := median(c.s.Wall[x]), median(c.s.Wall[y])
				return mx - my, signed(mx-my) + " (" + pct(mx-my, my) + ")"
			}
			ci := func(x, y string) string {
				lo, hi := diffCI(c.s.Wall[x], c.s.Wall[y])
				return signed(lo) + " … " + signed(hi)
			}
			_, ba := d("b", "a")
			_, ca := d("c", "a")
			_, da := d("d", "a")
			bdv, bd := d("b", "d")
			lo, hi := diffCI(c.s.Wall["b"], c.s.Wall["d"])
			w("| %s | %s | %s | %s | %s | %s … %s | %s | %s |", c.rt.Name, ba, ca, da, bd, signed(lo), signed(hi),
				signed(pairedMedian(c.s.Wall["b"], c.s.Wall["d"])), verdict(bdv, lo, hi, 1))
			if gx {
				_, gd := d("g", "d")
				_, bg := d("b", "g")
				w(" %s | %s | %s | %s |", gd, ci("g", "d"), bg, ci("b", "g"))
			}
			if e {
				_, ea := d("e", "a")
				w(" %s |", ea)
			}
			w("\n")
		}
		if gx {
			r.floorSentence(w)
			r.libraryFloorSentence(w)
		}
		for _, c := range r.create {
			if c.s.Err != "" {
				w("\n- %s: stopped early: %s\n", c.rt.Name, oneLine(c.s.Err))
			}
			if f := failures(c.s); f != "" {
				w("\n- %s: %s\n", c.rt.Name, f)
			}
			if c.outputMsg != "" {
				w("\n- %s\n", c.outputMsg)
			}
			if c.rewroteC != "" {
				w("\n- %s, (c): config.json %s.\n", c.rt.Name, c.rewroteC)
			}
		}
	}

	if o.baseline != "" {
		r.baselineSection(w)
	}
	if len(r.pass) > 0 {
		w("\n### Passthrough (ms)\n\n")
		w("`state ID` and `kill ID 0` on a created container: the runtime directly")
		if gx {
			w(", through goexec (a Go program that only execve's it: the Go floor)")
		}
		w(" and through secrun (which execs it without reading the policy); " +
			"\"env\": the runtime from `SECRUN_RUNTIME`; \"config\": from the node config's `runtime` key, as on a node where containerd sets no environment. " +
			"\"added\" is over the direct call")
		if gx {
			w("; goexec's \"added\" is the floor under the target (what a wrapper that does nothing costs), \"over goexec\" is secrun's work beyond it")
		}
		w(". Target: under 2 ms added over the direct call.\n\n")
		// Rows are cells joined here, so that the goexec columns can go
		// when goexec was not measured.
		row := func(cells ...string) { w("| %s |\n", strings.Join(cells, " | ")) }
		pick := func(all []string, goexecCols ...int) []string {
			if gx {
				return all
			}
			var out []string
			for i, c := range all {
				if !slices.Contains(goexecCols, i) {
					out = append(out, c)
				}
			}
			return out
		}
		goCols := []int{3, 4, 7, 10}
		head := pick([]string{"runtime", "call", "direct median", "goexec median", "added", "secrun (env) median", "added", "over goexec",
			"secrun (config) median", "added", "over goexec", "< 2 ms"}, goCols...)
		row(head...)
		w("|%s\n", strings.Repeat("---|", len(head)))
		for _, p := range r.pass {
			if p.s.Err != "" {
				row(append([]string{p.rt.Name, "stopped: " + oneLine(p.s.Err)}, make([]string, len(head)-2)...)...)
				continue
			}
			for _, k := range []string{"state", "kill"} {
				base := median(p.s.Wall[k])
				g := median(p.s.Wall[k+"-g"]) // NaN without goexec: "–"
				se, sc := median(p.s.Wall[k+"-s"]), median(p.s.Wall[k+"-c"])
				worst := math.Max(se-base, sc-base)
				v := "met"
				if worst >= 2 {
					v = "**missed**"
				}
				name := k + " ID"
				if k == "kill" {
					name = "kill ID 0"
				}
				row(pick([]string{p.rt.Name, "`" + name + "`", f2(base), f2(g), signed(g - base), f2(se), signed(se - base), signed(se - g),
					f2(sc), signed(sc - base), signed(sc - g), v}, goCols...)...)
			}
		}
		for _, p := range r.pass {
			if f := failures(p.s); f != "" {
				w("\n- %s: %s\n", p.rt.Name, f)
			}
		}
	}

	if len(r.alone.vs) > 0 {
		w("\n### secrun on its own, and memory\n\n")
		w("secrun with `SECRUN_RUNTIME=%s`: its whole cost (Go start-up, node config, policy, write, execve) without a runtime's noise, next to `%s` itself", o.truePath, o.truePath)
		if gx {
			w(" and to goexec → `%s` (a Go program that only execve's: Go's start-up floor)", o.truePath)
		}
		w(", interleaved like the rest. CPU is user + system time from `wait4` (ms); page faults are `ru_minflt`, counted across the execve (the wrapper's and `%s`'s): most of a short-lived Go program's cost is first touches of memory and code.\n\n", o.truePath)
		w("| call | wall median | p90 | CPU median | page faults median |\n|---|---|---|---|---|\n")
		for _, v := range r.alone.vs {
			x := r.alone.s.Wall[v.Key]
			w("| %s | %s | %s | %s | %.0f |\n", v.Label, f2(median(x)), f2(quantile(x, 0.9)), f2(median(r.alone.s.CPU[v.Key])), median(r.alone.s.Faults[v.Key]))
		}
		tru, gox := r.alone.s.Wall["true"], r.alone.s.Wall["go"]
		if len(tru) > 0 {
			w("\nsecrun's own time, ms (differences of medians, 95%% bootstrap interval): over `%s`, the whole cost of putting secrun in front of a program", o.truePath)
			if gx {
				w("; over goexec → `%s`, secrun's work beyond Go's start-up", o.truePath)
			}
			w(".\n\n| secrun call | over `%s` | 95%% interval |", o.truePath)
			if gx {
				w(" over goexec | 95%% interval |")
			}
			w("\n|---|---|---|")
			if gx {
				w("---|---|")
			}
			w("\n")
			rows := []struct{ key, label string }{
				{"default", "create, default policy"}, {"noop", "create, no-op policy"}, {"state", "state (passthrough)"},
			}
			if len(r.alone.s.Wall["lib"]) > 0 {
				rows = append(rows, struct{ key, label string }{"lib", "specexec create (the spec decoded and rewritten by the JSON library, no policy)"})
			}
			if o.baseline != "" {
				rows = append(rows, struct{ key, label string }{"baseline", "create, default policy, baseline build `" + o.baselineName + "`"})
			}
			for _, k := range rows {
				x := r.alone.s.Wall[k.key]
				lo, hi := diffCI(x, tru)
				glo, ghi := diffCI(x, gox)
				w("| %s | %s | %s … %s |", k.label, signed(median(x)-median(tru)), signed(lo), signed(hi))
				if gx {
					w(" %s | %s … %s |", signed(median(x)-median(gox)), signed(glo), signed(ghi))
				}
				w("\n")
			}
			if gx {
				lo, hi := diffCI(gox, tru)
				w("\nGo's own floor, goexec → `%s` minus `%s`: %s ms (95%% interval %s … %s), the start-up of a pure-Go binary that does no work.\n",
					o.truePath, o.truePath, signed(median(gox)-median(tru)), signed(lo), signed(hi))
			}
			if lib := r.alone.s.Wall["lib"]; len(lib) > 0 && gx {
				llo, lhi := diffCI(lib, gox)
				def := r.alone.s.Wall["default"]
				dlo, dhi := diffCI(def, lib)
				w("\nThe library's floor, specexec minus goexec: %s ms (95%% interval %s … %s), what reading, decoding into the runtime-spec type, encoding and replacing config.json with go-json-experiment costs a fresh process, before any policy. "+
					"secrun's policy beyond it (default policy minus specexec): %s ms (95%% interval %s … %s): the node config, the command line as the runtime reads it, the one-reading check, the modifiers (Docker's profile resolved for the capabilities), the canonical encoding and the kept original.\n",
					signed(median(lib)-median(gox)), signed(llo), signed(lhi), signed(median(def)-median(lib)), signed(dlo), signed(dhi))
			}
		}
		if r.alone.init != "" {
			w("\nsecrun's %s.\n", r.alone.init)
		}
		if r.alone.s.Err != "" {
			w("\n- stopped early: %s\n", oneLine(r.alone.s.Err))
		}
		if f := failures(r.alone.s); f != "" {
			w("\n- %s\n", f)
		}
	}
	if len(r.mem) > 0 {
		w("\n### Peak memory\n\n")
		w("`ru_maxrss` from `wait4`, through the static launcher `bench/maxrss.c` (a child of the Go harness would start with the harness's RSS as its floor). " +
			"The kernel keeps the peak across execve, so secrun → `/bin/true` is secrun's own peak and secrun → runtime the larger of the two. Median of up to 10 interleaved runs.\n\n")
		w("| process | max RSS MiB |\n|---|---|\n")
		for _, m := range r.mem {
			v := mib(median(m.kib))
			if m.err != "" {
				v = "failed: " + oneLine(m.err)
			}
			w("| %s | %s |\n", m.label, v)
		}
	}

	if len(r.sys) > 0 {
		w("\n### System calls inside the container (ns per call)\n\n")
		w("`bench/syscall_loop.c`, static, times %d calls of each syscall; median of %d interleaved rounds per configuration (in brackets: the difference from no filter). "+
			"`getppid` has no argument rule in Docker's profile (the kernel's seccomp action cache answers it without running the filter); "+
			"`personality(0xffffffff)` is argument-checked (the filter runs on every call); `read` of 1 byte from /dev/zero. "+
			"\"Docker default\": `github.com/moby/profiles/seccomp` resolved for the spec's capabilities, as dockerd gives it to the runtime; "+
			"\"small allowlist\": a recorded-style profile of the %d syscalls the loop and the runtime's init need, everything else EPERM.\n\n",
			o.iters, o.rounds, len(smallProfile().Syscalls[0].Names))
		w("| runtime | configuration | getppid | personality | read | inside the container |\n|---|---|---|---|---|---|\n")
		for _, s := range r.sys {
			var none map[string][]float64
			if len(s.cfgs) > 0 {
				none = s.ns[s.cfgs[0]]
			}
			for i, c := range s.cfgs {
				cell := func(sc string) string {
					x := s.ns[c][sc]
					if len(x) == 0 {
						return "–"
					}
					m := median(x)
					if i == 0 || none == nil || len(none[sc]) == 0 {
						return fmt.Sprintf("%.1f", m)
					}
					return fmt.Sprintf("%.1f (%+.1f)", m, m-median(none[sc]))
				}
				w("| %s | %s | %s | %s | %s | %s |\n", s.rt.Name, c, cell("getppid"), cell("personality"), cell("read"), orDash(s.status[c]))
			}
			for _, e := range s.errs {
				w("\n- %s: %s\n", s.rt.Name, oneLine(e))
			}
		}
		r.syscallTargets(w)
	}

	if len(r.gobench) > 0 {
		w("\n### Go benchmarks (`go test -bench . -benchmem ./bench/gobench/`)\n\n")
		w("The steps of `secrun create` in-process, on containerd-shaped configs padded to 10, 20 and 30 KB (env and annotations) and on one carrying Docker's profile (`RuntimeDefault`: secrun merges); `Save` and `CreatePath` on the temp dir's filesystem and on tmpfs. One process, warm caches: no Go start-up, no first-use cost of encoding/json's type caches.\n\n")
		w("| benchmark | µs/op | KB/op | allocs/op |\n|---|---|---|---|\n")
		for _, g := range r.gobench {
			w("| `%s` | %.1f | %.1f | %d |\n", g.name, g.nsPerOp/1000, g.bytesPerOp/1024, g.allocsPerOp)
		}
	}
	if len(r.notes) > 0 {
		w("\n")
		for _, n := range r.notes {
			w("- %s\n", n)
		}
	}
	return b.String()
}

func failures(s samples) string {
	if len(s.Failures) == 0 {
		return ""
	}
	return fmt.Sprintf("%d iteration(s) dropped and run again after a failed call; first: %s", len(s.Failures), oneLine(s.Failures[0]))
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func oneLine(s string) string {
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	return s
}

// floorSentence states the Go floor of create plainly: what g − d was under
// each runtime, what Go's start-up costs measured without a runtime's noise
// (goexec → /bin/true minus /bin/true, the same extra work: one more Go
// process start and execve), and whether that alone is past the 1 ms
// target, i.e. whether any wrapper written in Go could meet it here.
func (r *report) floorSentence(w func(string, ...any)) {
	var parts []string
	above, within := true, true // judged on g − d's intervals
	for _, c := range r.create {
		g, d := c.s.Wall["g"], c.s.Wall["d"]
		if len(g) == 0 || len(d) == 0 {
			continue
		}
		lo, hi := diffCI(g, d)
		parts = append(parts, fmt.Sprintf("%s ms under %s", signed(median(g)-median(d)), c.rt.Name))
		above = above && !math.IsNaN(lo) && lo > 1
		within = within && !math.IsNaN(hi) && hi <= 1
	}
	if len(parts) == 0 {
		return
	}
	w("\nThe floor: a Go program that does nothing but execve the runtime changed create by %s (g − d), before doing any work of its own. ", strings.Join(parts, ", "))
	judged := "every g − d interval"
	if tru, gox := r.alone.s.Wall["true"], r.alone.s.Wall["go"]; len(tru) > 0 && len(gox) > 0 {
		// The same quantity without a runtime's variation: the tighter estimate.
		lo, hi := diffCI(gox, tru)
		w("Measured without a runtime (goexec → `%s` minus `%s`, below) Go's start-up and the one extra execve cost %s ms (95%% interval %s … %s). ",
			r.opts.truePath, r.opts.truePath, signed(median(gox)-median(tru)), signed(lo), signed(hi))
		above = !math.IsNaN(lo) && lo > 1
		within = !math.IsNaN(hi) && hi <= 1
		judged = "its interval"
	}
	switch {
	case above:
		w("That floor alone is more than the 1 ms target (%s lies above it): on this machine no wrapper written in Go, which pays at least this, can meet the target; ", judged)
	case within:
		w("That floor is within the 1 ms target (%s lies at or below it); ", judged)
	default:
		w("These runs do not settle whether that floor alone is more than the 1 ms target (%s reaches both sides, or there were too few runs for one); ", judged)
	}
	w("b − g is the part of b − d that is secrun's own work.\n")
}

// libraryFloorSentence reports (s), the runtime behind a wrapper that
// decodes and rewrites the spec with the JSON library and applies no
// policy: s / d is the best b / d a Go wrapper rewriting the spec this way
// could reach, and b − s is secrun's policy work.
func (r *report) libraryFloorSentence(w func(string, ...any)) {
	var parts []string
	for _, c := range r.create {
		sx, d, b := c.s.Wall["s"], c.s.Wall["d"], c.s.Wall["b"]
		if len(sx) == 0 || len(d) == 0 {
			continue
		}
		rlo, rhi := ratioCI(sx, d)
		blo, bhi := diffCI(b, sx)
		parts = append(parts, fmt.Sprintf("under %s, s / d = %.3f [%.3f … %.3f] and b − s = %s ms (%s … %s)",
			c.rt.Name, median(sx)/median(d), rlo, rhi, signed(median(b)-median(sx)), signed(blo), signed(bhi)))
	}
	if len(parts) == 0 {
		return
	}
	w("\nThe library's floor: (s) is (d) through specexec, a Go wrapper that reads the original config, decodes it into the runtime-spec type and writes it back with secrun's JSON library, applying no policy, then execs the runtime on secrun's output. s / d is the best b / d such a wrapper reaches; b − s is secrun's policy work as seen through the runtime's variation, which with few iterations swamps it (the alone section's secrun minus specexec is the tight estimate): %s.\n", strings.Join(parts, "; "))
}

// syscallTargets judges the per-syscall targets: differences of
// medians in % of Docker's default, with a 95% bootstrap interval over the
// interleaved rounds (paired by round).
func (r *report) syscallTargets(w func(string, ...any)) {
	type target struct {
		what, sc, cfg string
		limit         float64 // % over Docker's default
		goal          string
	}
	targets := []target{
		{"secrun default vs Docker default", "getppid", "secrun default", 2, "cached syscall within 2%"},
		{"secrun default vs Docker default", "personality", "secrun default", 0, "argument-checked syscall no slower"},
		{"small allowlist vs Docker default", "getppid", "small allowlist", 0, "a recorded profile at least as fast"},
		{"small allowlist vs Docker default", "personality", "small allowlist", 0, "a recorded profile at least as fast"},
		{"small allowlist vs Docker default", "read", "small allowlist", 0, "a recorded profile at least as fast"},
	}
	w("\nThe issue's per-syscall targets: difference of medians in %% of Docker's default as the runtime compiles it, with a 95%% bootstrap interval over the interleaved rounds (resampled as pairs by round). A verdict needs the interval on one side of the target; where it straddles, the rounds cannot tell the two apart.\n\n")
	w("| runtime | comparison | syscall | target | difference | 95%% interval | verdict |\n|---|---|---|---|---|---|---|\n")
	for _, s := range r.sys {
		var docker string
		for _, c := range s.cfgs {
			if strings.HasPrefix(c, "Docker default") {
				docker = c
			}
		}
		for _, t := range targets {
			var cfg string
			for _, c := range s.cfgs {
				if strings.HasPrefix(c, t.cfg) {
					cfg = c
				}
			}
			x, y := s.ns[cfg][t.sc], s.ns[docker][t.sc]
			if docker == "" || cfg == "" || len(x) == 0 || len(y) == 0 {
				continue
			}
			base := median(y)
			pctOf := func(v float64) float64 { return 100 * v / base }
			d := median(x) - base
			lo, hi := diffCI(x, y)
			w("| %s | %s | `%s` | %s (≤ %+.0f%%) | %+.1f%% | %+.1f%% … %+.1f%% | %s |\n",
				s.rt.Name, t.what, t.sc, t.goal, t.limit, pctOf(d), pctOf(lo), pctOf(hi), verdict(pctOf(d), pctOf(lo), pctOf(hi), t.limit))
		}
	}
}

// baselineSection sets this build against the baseline build measured in
// the same run: alone and in front of each runtime.
func (r *report) baselineSection(w func(string, ...any)) {
	o := r.opts
	w("\n### This build against the baseline build `%s` (same run)\n\n", o.baselineName)
	w("Both builds interleaved in every iteration, on the same input and node config. b − b0 below zero: this build is faster. b0 / d and b / d: each build's create over the runtime alone on the config this build writes.\n\n")
	w("| where | (b0) baseline median | (b) this build median | b − b0 | 95%% interval | page faults b0 → b | b0 / d | b / d |\n|---|---|---|---|---|---|---|---|\n")
	if x, y := r.alone.s.Wall["default"], r.alone.s.Wall["baseline"]; len(x) > 0 && len(y) > 0 {
		lo, hi := diffCI(x, y)
		w("| alone (→ `%s`) | %s | %s | %s | %s … %s | %.0f → %.0f | – | – |\n", o.truePath, f2(median(y)), f2(median(x)), signed(median(x)-median(y)), signed(lo), signed(hi),
			median(r.alone.s.Faults["baseline"]), median(r.alone.s.Faults["default"]))
	}
	for _, c := range r.create {
		x, y, d := c.s.Wall["b"], c.s.Wall["b0"], c.s.Wall["d"]
		if len(x) == 0 || len(y) == 0 {
			continue
		}
		lo, hi := diffCI(x, y)
		w("| in front of %s | %s | %s | %s | %s … %s | %.0f → %.0f | %.3f | %.3f |\n", c.rt.Name, f2(median(y)), f2(median(x)), signed(median(x)-median(y)), signed(lo), signed(hi),
			median(c.s.Faults["b0"]), median(c.s.Faults["b"]), median(y)/median(d), median(x)/median(d))
	}
}
