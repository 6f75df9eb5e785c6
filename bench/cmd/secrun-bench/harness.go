package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

type runtimeInfo struct {
	Name, Path, Version string
}

// leftover is a container the harness created and could not delete yet.
type leftover struct {
	rt       runtimeInfo
	root, id string
}

type harness struct {
	ctx       context.Context
	o         *options
	secrun    string
	goexec    string // the Go no-op exec wrapper (bench/goexec); "": no Go-floor variants
	specexec  string // the spec-rewriting wrapper without policy (bench/specexec); "": none
	work      string // bundles and runtime roots
	rootfsDir string
	rootfs    string
	runtimes  []runtimeInfo
	env       []string
	specFrom  runtimeInfo

	// orig is the bundle's config.json for create; loopOrig runs the loop.
	orig, loopOrig []byte
	// confinedCfg is what secrun's default policy makes of orig.
	confinedCfg []byte
	cfgDefault  string
	cfgNoop     string
	// nodeText is the default node config's text ("" for the embedded
	// default); nodeFrom says where it came from.
	nodeText, nodeFrom string

	leftovers []leftover
	notes     []string
	seq       int
}

func newHarness(ctx context.Context, o *options) (*harness, error) {
	h := &harness{ctx: ctx, o: o, env: baseEnv()}
	var err error
	if h.secrun, err = filepath.Abs(o.secrun); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(h.secrun); err != nil || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("secrun binary %s: not found or not executable (run `make build` first)", h.secrun)
	}
	if _, err := os.Stat(o.truePath); err != nil {
		return nil, fmt.Errorf("-true %s: %w", o.truePath, err)
	}
	if o.goexec == "" {
		h.notes = append(h.notes, "No -goexec wrapper given: the Go floor (goexec rows, create variant (g), the g − d and b − g columns) was not measured.")
	} else {
		if h.goexec, err = filepath.Abs(o.goexec); err != nil {
			return nil, err
		}
		// A broken floor would make secrun look free: check it runs.
		r := run(ctx, h.viaGoexec(call{Path: o.truePath, Env: h.env}), o.timeout)
		if r.Err != nil {
			return nil, fmt.Errorf("-goexec %s → %s: %w (build it: CGO_ENABLED=0 go build -o bin/goexec ./bench/goexec)", h.goexec, o.truePath, r.Err)
		}
	}
	if o.specexec != "" {
		if o.goexec == "" {
			return nil, fmt.Errorf("-specexec needs -goexec: its floor is read against goexec's")
		}
		if h.specexec, err = filepath.Abs(o.specexec); err != nil {
			return nil, err
		}
	}
	for _, kv := range strings.Split(o.runtimes, ",") {
		name, path, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("-runtimes: %q is not NAME=PATH", kv)
		}
		if _, err := os.Stat(path); err != nil {
			h.notes = append(h.notes, fmt.Sprintf("%s (%s) not installed: skipped.", name, path))
			continue
		}
		h.runtimes = append(h.runtimes, runtimeInfo{Name: name, Path: path, Version: firstLine(path, "--version")})
	}
	if len(h.runtimes) == 0 {
		return nil, fmt.Errorf("none of the runtimes in -runtimes is installed")
	}
	if h.work, err = os.MkdirTemp(workdir(o.workdir), "secrun-bench-"); err != nil {
		return nil, err
	}
	// The rootfs stays on ordinary storage, like image snapshots; only
	// bundles and runtime state go where -workdir says.
	if h.rootfsDir, err = os.MkdirTemp("", "secrun-bench-rootfs-"); err != nil {
		os.RemoveAll(h.work)
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(h.work)
			os.RemoveAll(h.rootfsDir)
		}
	}()
	h.rootfs = filepath.Join(h.rootfsDir, "rootfs")
	if err := makeRootfs(h.rootfs, o.busybox, o.loop); err != nil {
		return nil, err
	}
	// The bundle spec comes from the first runtime whose `spec` works.
	var base map[string]any
	for _, rt := range h.runtimes {
		if base, err = baseSpec(rt.Path, h.rootfs, []string{"/bin/true"}); err == nil {
			h.specFrom = rt
			break
		}
	}
	if base == nil {
		return nil, err
	}
	h.orig = encodeSpec(base)
	h.loopOrig = encodeSpec(cloneSpec(base, []string{"/bin/syscall_loop", strconv.Itoa(o.iters)}))
	// The default policy: the node config `make install` installs
	// (deploy/config.toml), else secrun's embedded default (a missing file).
	h.cfgDefault = filepath.Join(h.work, "default.toml")
	h.nodeText = ""
	if data, err := os.ReadFile(o.nodeConfig); err == nil {
		h.nodeText = string(data)
		if err := writeNodeConfig(h.cfgDefault, h.nodeText); err != nil {
			return nil, err
		}
		h.nodeFrom = "`" + o.nodeConfig + "`"
	} else {
		h.nodeFrom = "secrun's embedded default (" + o.nodeConfig + " not found)"
	}
	// What (b) hands the runtime, for (d): secrun's output with the
	// runtime replaced by a no-op. The policy does not depend on the runtime.
	b := h.bundle("prep", h.orig)
	r := run(ctx, h.createCall(h.secrun, b, "prep", h.secrunEnv(o.truePath, h.cfgDefault)), o.timeout)
	if r.Err != nil {
		return nil, fmt.Errorf("secrun create with the default policy: %w", r.Err)
	}
	// The no-op policy: the first candidate this secrun accepts.
	h.cfgNoop = filepath.Join(h.work, "noop.toml")
	var noopErrs []string
	for _, text := range noopNodeConfigs() {
		if err := writeNodeConfig(h.cfgNoop, text); err != nil {
			return nil, err
		}
		b := h.bundle("prep-noop", h.orig)
		r := run(ctx, h.createCall(h.secrun, b, "prep", h.secrunEnv(o.truePath, h.cfgNoop)), o.timeout)
		if r.Err == nil {
			noopErrs = nil
			break
		}
		noopErrs = append(noopErrs, r.Err.Error())
	}
	if noopErrs != nil {
		return nil, fmt.Errorf("secrun refuses every no-op policy candidate: %s", strings.Join(noopErrs, "; "))
	}
	if h.confinedCfg, err = os.ReadFile(filepath.Join(b, "config.json")); err != nil {
		return nil, err
	}
	if err := confined(h.confinedCfg); err != nil {
		return nil, fmt.Errorf("secrun's output config is not confined: %v", err)
	}
	ok = true
	return h, nil
}

// workdir picks where bundles and runtime roots go. containerd keeps
// bundles under /run (tmpfs on a normal node) and runc its state in
// /run/runc; secrun fsyncs what it writes, which costs next to nothing on
// tmpfs and milliseconds on a disk, so "auto" looks for a tmpfs the way a
// node has one: /run, else /dev/shm, else $TMPDIR.
func workdir(flagValue string) string {
	if flagValue != "auto" {
		return flagValue
	}
	for _, d := range []string{"/run", "/dev/shm"} {
		if fsType(d) == "tmpfs" {
			return d
		}
	}
	return os.TempDir()
}

func firstLine(path string, args ...string) string {
	out, err := exec.Command(path, args...).Output()
	if err != nil && len(out) == 0 {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// bundle creates a fresh bundle directory holding config.
func (h *harness) bundle(name string, config []byte) string {
	dir := filepath.Join(h.work, "bundles", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	h.writeConfig(dir, config)
	return dir
}

func (h *harness) writeConfig(bundle string, config []byte) {
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), config, 0o644); err != nil {
		panic(err)
	}
}

func (h *harness) root(rt runtimeInfo) string { return filepath.Join(h.work, "roots", rt.Name) }

func (h *harness) secrunEnv(runtime, config string) []string {
	return withEnv(h.env, "SECRUN_RUNTIME="+runtime, "SECRUN_CONFIG="+config)
}

// viaGoexec is c run through the Go no-op exec wrapper: the same argv and
// environment, plus the variable naming the program goexec execs. Timing it
// next to c gives the floor any Go wrapper adds to c.
func (h *harness) viaGoexec(c call) call {
	c.Env = withEnv(c.Env, "GOEXEC_TARGET="+c.Path)
	c.Path = h.goexec
	return c
}

// viaSpecexec runs c through specexec, which rewrites c's bundle's
// config.json with the JSON library before it execs c's program.
func (h *harness) viaSpecexec(c call) call {
	c = h.viaGoexec(c)
	c.Path = h.specexec
	return c
}

// newID returns a container ID unique to this harness run.
func (h *harness) newID(tag string) string {
	h.seq++
	return fmt.Sprintf("sb%d-%s-%d", os.Getpid(), tag, h.seq)
}

// createCall is `create` with containerd's global flags; root is set per
// runtime by the caller through bundle-independent roots.
func (h *harness) createCall(bin, bundle, id string, env []string) call {
	return h.createCallRoot(bin, filepath.Join(h.work, "roots", "none"), bundle, id, env)
}

func (h *harness) createCallRoot(bin, root, bundle, id string, env []string) call {
	return call{
		Path: bin,
		Args: []string{"--root", root, "--log", filepath.Join(bundle, "log.json"), "--log-format", "json",
			"create", "--bundle", bundle, "--pid-file", filepath.Join(bundle, "init.pid"), id},
		Env: env,
		Out: filepath.Join(bundle, "stdio.out"),
	}
}

// remove deletes a container, untimed; one it cannot delete is retried at exit.
func (h *harness) remove(rt runtimeInfo, id string) {
	ctx := context.WithoutCancel(h.ctx)
	r := run(ctx, call{Path: rt.Path, Args: []string{"--root", h.root(rt), "delete", "--force", id}, Env: h.env,
		Out: filepath.Join(h.work, "delete.out")}, h.o.timeout)
	if r.Err != nil {
		h.leftovers = append(h.leftovers, leftover{rt, h.root(rt), id})
	}
}

// cleanup deletes every container left in the harness's runtime roots, then
// the work directory.
func (h *harness) cleanup() {
	ctx := context.Background()
	for _, l := range h.leftovers {
		run(ctx, call{Path: l.rt.Path, Args: []string{"--root", l.root, "delete", "--force", l.id}, Env: h.env}, h.o.timeout)
	}
	for _, rt := range h.runtimes {
		root := h.root(rt)
		if _, err := os.Stat(root); err != nil {
			continue
		}
		out, _ := exec.Command(rt.Path, "--root", root, "list", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command(rt.Path, "--root", root, "delete", "--force", id).Run()
		}
		if out, _ := exec.Command(rt.Path, "--root", root, "list", "-q").Output(); len(bytes.TrimSpace(out)) > 0 {
			fmt.Fprintf(os.Stderr, "secrun-bench: %s: containers left in %s: %s\n", rt.Name, root, bytes.TrimSpace(out))
			return // keep the work dir: their bundles are in it
		}
	}
	if h.o.keep {
		fmt.Fprintf(os.Stderr, "secrun-bench: work directories kept: %s %s\n", h.work, h.rootfsDir)
		return
	}
	os.RemoveAll(h.work)
	os.RemoveAll(h.rootfsDir)
}

func (h *harness) progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "secrun-bench: "+format+"\n", a...)
}

// rotation returns the order of k variants for iteration i: 0..k-1 rotated
// by i, so each variant runs in each position equally often.
func rotation(i, k int) []int {
	o := make([]int, k)
	s := ((i % k) + k) % k
	for j := range o {
		o[j] = (s + j) % k
	}
	return o
}

// variant is one way of running a call, sampled interleaved with the others.
type variant struct {
	Key, Label string
	// prepare runs untimed before each call (fresh config copies).
	prepare func()
	call    func(id string) call
	// after runs untimed after each call (delete).
	after func(id string, err error)
}

// samples is what a set of interleaved variants measured.
type samples struct {
	Wall   map[string][]float64 // ms
	CPU    map[string][]float64 // ms
	Faults map[string][]float64 // minor page faults
	// Failures are the iterations dropped (and run again) because a call failed.
	Failures []string
	Err      string
}

// interleave runs every variant once per iteration in rotating order,
// warmup iterations unrecorded. An iteration where a call fails is dropped
// as a whole, so that the variants' samples stay paired by iteration; after
// maxFailures failed iterations the section stops.
func (h *harness) interleave(tag string, vs []variant, n int) samples {
	const maxFailures = 3
	s := samples{Wall: map[string][]float64{}, CPU: map[string][]float64{}, Faults: map[string][]float64{}}
	for i := -h.o.warmup; i < n; i++ {
		if h.ctx.Err() != nil {
			s.Err = "interrupted"
			return s
		}
		wall := map[string]float64{}
		cpu := map[string]float64{}
		flt := map[string]float64{}
		var failed error
		for _, k := range rotation(i, len(vs)) {
			v := vs[k]
			if v.prepare != nil {
				v.prepare()
			}
			id := h.newID(tag + v.Key)
			r := run(h.ctx, v.call(id), h.o.timeout)
			if v.after != nil {
				v.after(id, r.Err)
			}
			if r.Err != nil {
				failed = fmt.Errorf("%s: %v", v.Label, r.Err)
				break
			}
			wall[v.Key], cpu[v.Key], flt[v.Key] = ms(r.Wall), ms(r.CPU), float64(r.Faults)
		}
		if failed != nil {
			s.Failures = append(s.Failures, failed.Error())
			h.progress("%s: iteration %d dropped: %v", tag, i, failed)
			if len(s.Failures) >= maxFailures || h.ctx.Err() != nil {
				s.Err = fmt.Sprintf("stopped after %d failed iterations; last: %v", len(s.Failures), failed)
				return s
			}
			i-- // run the iteration again
			continue
		}
		if i >= 0 {
			for k, v := range wall {
				s.Wall[k] = append(s.Wall[k], v)
				s.CPU[k] = append(s.CPU[k], cpu[k])
				s.Faults[k] = append(s.Faults[k], flt[k])
			}
		}
		if i >= 0 && (i+1)%10 == 0 {
			h.progress("%s: %d/%d", tag, i+1, n)
		}
	}
	return s
}

// ---- secrun alone: the runtime replaced by /bin/true ----

type aloneResult struct {
	vs   []variant
	s    samples
	init string // GODEBUG=inittrace=1 summary
}

func (h *harness) benchAlone() aloneResult {
	h.progress("secrun alone (runtime = %s)", h.o.truePath)
	bDef := h.bundle("alone-default", h.orig)
	bNoop := h.bundle("alone-noop", h.orig)
	bTrue := h.bundle("alone-true", h.orig)
	root := filepath.Join(h.work, "roots", "none")
	tru := h.o.truePath
	trueCall := func(id string) call { return h.createCallRoot(tru, root, bTrue, id, h.env) }
	vs := []variant{
		{Key: "true", Label: tru + " create (process start baseline)", call: trueCall},
	}
	if h.goexec != "" {
		// The same call through goexec: Go's start-up and nothing else.
		vs = append(vs, variant{Key: "go", Label: "goexec → " + tru + " create (Go no-op exec wrapper: the Go start-up floor)",
			call: func(id string) call { return h.viaGoexec(trueCall(id)) }})
	}
	if h.specexec != "" {
		// Decoding and rewriting the spec with the JSON library, no policy.
		bLib := h.bundle("alone-lib", h.orig)
		vs = append(vs, variant{Key: "lib", Label: "specexec → " + tru + " create (decodes, encodes and replaces config.json with secrun's JSON library, no policy)",
			prepare: func() { h.writeConfig(bLib, h.orig) },
			call:    func(id string) call { return h.viaSpecexec(h.createCallRoot(tru, root, bLib, id, h.env)) }})
	}
	vs = append(vs, []variant{
		{Key: "default", Label: "secrun create, default policy → " + tru,
			prepare: func() { h.writeConfig(bDef, h.orig) },
			call: func(id string) call {
				return h.createCallRoot(h.secrun, root, bDef, id, h.secrunEnv(tru, h.cfgDefault))
			}},
		{Key: "noop", Label: "secrun create, no-op policy → " + tru,
			prepare: func() { h.writeConfig(bNoop, h.orig) },
			call: func(id string) call {
				return h.createCallRoot(h.secrun, root, bNoop, id, h.secrunEnv(tru, h.cfgNoop))
			}},
		{Key: "state", Label: "secrun state (passthrough) → " + tru,
			call: func(id string) call {
				return call{Path: h.secrun, Args: []string{"--root", root, "state", id}, Env: h.secrunEnv(tru, h.cfgDefault)}
			}},
	}...)
	if h.o.baseline != "" {
		bBase := h.bundle("alone-baseline", h.orig)
		vs = append(vs, variant{Key: "baseline", Label: "baseline build (`" + h.o.baselineName + "`) create, default policy → " + tru,
			prepare: func() { h.writeConfig(bBase, h.orig) },
			call: func(id string) call {
				return h.createCallRoot(h.o.baseline, root, bBase, id, h.secrunEnv(tru, h.cfgDefault))
			}})
	}
	res := aloneResult{vs: vs, s: h.interleave("alone", vs, h.o.n)}
	res.init = h.initTrace(bDef, root)
	return res
}

// initTrace runs secrun once with GODEBUG=inittrace=1 and sums the package
// initialisers' wall time: part of secrun's fixed start-up cost.
func (h *harness) initTrace(bundle, root string) string {
	h.writeConfig(bundle, h.orig)
	c := h.createCallRoot(h.secrun, root, bundle, h.newID("init"), withEnv(h.secrunEnv(h.o.truePath, h.cfgDefault), "GODEBUG=inittrace=1"))
	if r := run(h.ctx, c, h.o.timeout); r.Err != nil {
		return "inittrace failed: " + r.Err.Error()
	}
	data, _ := os.ReadFile(c.Out)
	type pkg struct {
		name  string
		clock float64
	}
	var pkgs []pkg
	var total float64
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// init github.com/x/y @0.51 ms, 0.012 ms clock, 1234 bytes, 5 allocs
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[0] != "init" {
			continue
		}
		v, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			continue
		}
		total += v
		pkgs = append(pkgs, pkg{f[1], v})
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].clock > pkgs[j].clock })
	var top []string
	for _, p := range pkgs[:min(3, len(pkgs))] {
		top = append(top, fmt.Sprintf("`%s` %.3f ms", p.name, p.clock))
	}
	return fmt.Sprintf("package initialisers: %.3f ms in total over %d packages (largest: %s)", total, len(pkgs), strings.Join(top, ", "))
}

// ---- create latency ----

type createResult struct {
	rt        runtimeInfo
	vs        []variant
	s         samples
	rewroteC  string
	outputMsg string
}

func (h *harness) benchCreate(rt runtimeInfo) createResult {
	h.progress("%s: create latency, %d interleaved rounds after %d warm-up", rt.Name, h.o.n, h.o.warmup)
	root := h.root(rt)
	bA := h.bundle(rt.Name+"-create-a", h.orig)
	bB := h.bundle(rt.Name+"-create-b", h.orig)
	bC := h.bundle(rt.Name+"-create-c", h.orig)
	bD := h.bundle(rt.Name+"-create-d", h.confinedCfg)
	del := func(id string, _ error) { h.remove(rt, id) }
	res := createResult{rt: rt}
	checkedB, checkedC := false, false
	res.vs = []variant{
		{Key: "a", Label: "(a) " + rt.Name + ", original config",
			call:  func(id string) call { return h.createCallRoot(rt.Path, root, bA, id, h.env) },
			after: del},
		{Key: "b", Label: "(b) secrun, default policy",
			prepare: func() { h.writeConfig(bB, h.orig) },
			call: func(id string) call {
				return h.createCallRoot(h.secrun, root, bB, id, h.secrunEnv(rt.Path, h.cfgDefault))
			},
			after: func(id string, err error) {
				h.remove(rt, id)
				if err == nil && !checkedB {
					checkedB = true
					got, _ := os.ReadFile(filepath.Join(bB, "config.json"))
					if !bytes.Equal(got, h.confinedCfg) {
						res.outputMsg = "secrun's output under " + rt.Name + " differs from the (d) config"
					}
				}
			}},
		{Key: "c", Label: "(c) secrun, no-op policy",
			prepare: func() { h.writeConfig(bC, h.orig) },
			call: func(id string) call {
				return h.createCallRoot(h.secrun, root, bC, id, h.secrunEnv(rt.Path, h.cfgNoop))
			},
			after: func(id string, err error) {
				h.remove(rt, id)
				if err == nil && !checkedC {
					checkedC = true
					got, _ := os.ReadFile(filepath.Join(bC, "config.json"))
					if bytes.Equal(got, h.orig) {
						res.rewroteC = "not rewritten"
					} else if d := jsonDiff(h.orig, got, 5); len(d) == 0 {
						res.rewroteC = "rewritten, same content"
					} else {
						res.rewroteC = "rewritten; differences: `" + strings.Join(d, "`, `") + "`"
					}
				}
			}},
		{Key: "d", Label: "(d) " + rt.Name + ", secrun's output config",
			call:  func(id string) call { return h.createCallRoot(rt.Path, root, bD, id, h.env) },
			after: del},
	}
	if h.o.baseline != "" {
		// (b0) the baseline build on the same input, measured in the
		// same run, so that a change is judged against it side by side.
		bB0 := h.bundle(rt.Name+"-create-b0", h.orig)
		res.vs = append(res.vs, variant{Key: "b0", Label: "(b0) baseline build, default policy",
			prepare: func() { h.writeConfig(bB0, h.orig) },
			call: func(id string) call {
				return h.createCallRoot(h.o.baseline, root, bB0, id, h.secrunEnv(rt.Path, h.cfgDefault))
			},
			after: del})
	}
	if h.goexec != "" {
		// (d) through a Go program that only execs: what any Go wrapper
		// costs here, given the same final config. Its own bundle so that
		// it writes no file (d) reads.
		bG := h.bundle(rt.Name+"-create-g", h.confinedCfg)
		res.vs = append(res.vs, variant{Key: "g", Label: "(g) goexec → " + rt.Name + ", secrun's output config",
			call:  func(id string) call { return h.viaGoexec(h.createCallRoot(rt.Path, root, bG, id, h.env)) },
			after: del})
	}
	if h.specexec != "" {
		// (s) (d) through a wrapper that decodes and rewrites the original
		// spec with secrun's JSON library (a fresh copy of it beside the
		// runtime's config.json each time) and applies no policy: the
		// floor of any Go wrapper that rewrites config.json this way.
		bS := h.bundle(rt.Name+"-create-s", h.confinedCfg)
		orig := filepath.Join(bS, "original.json")
		res.vs = append(res.vs, variant{Key: "s", Label: "(s) specexec → " + rt.Name + ", secrun's output config",
			prepare: func() {
				if err := os.WriteFile(orig, h.orig, 0o644); err != nil {
					panic(err)
				}
			},
			call: func(id string) call {
				c := h.viaSpecexec(h.createCallRoot(rt.Path, root, bS, id, h.env))
				c.Env = withEnv(c.Env, "SPECEXEC_FILE="+orig)
				return c
			},
			after: del})
	}
	if h.o.nativeArch {
		native, err := nativeArchOnly(h.confinedCfg)
		if err != nil {
			res.s.Err = err.Error()
			return res
		}
		bE := h.bundle(rt.Name+"-create-e", native)
		res.vs = append(res.vs, variant{Key: "e", Label: "(e) " + rt.Name + ", secrun's output config, native architecture only",
			call:  func(id string) call { return h.createCallRoot(rt.Path, root, bE, id, h.env) },
			after: del})
	}
	res.s = h.interleave(rt.Name+"-create-", res.vs, h.o.n)
	return res
}

// ---- passthrough ----

type passResult struct {
	rt runtimeInfo
	vs []variant
	s  samples
}

func (h *harness) benchPassthrough(rt runtimeInfo) passResult {
	h.progress("%s: passthrough (state, kill 0)", rt.Name)
	res := passResult{rt: rt}
	root := h.root(rt)
	b := h.bundle(rt.Name+"-pass", h.orig)
	id := h.newID("pass")
	if r := run(h.ctx, h.createCallRoot(rt.Path, root, b, id, h.env), h.o.timeout); r.Err != nil {
		h.remove(rt, id)
		res.s.Err = "creating the container: " + r.Err.Error()
		return res
	}
	defer h.remove(rt, id)
	// The runtime read from the node config, as on a node where containerd
	// sets no SECRUN_RUNTIME: secrun decodes just the runtime key.
	cfgRT := filepath.Join(h.work, rt.Name+"-runtime.toml")
	if err := writeNodeConfig(cfgRT, withRuntime(h.nodeText, rt.Path)); err != nil {
		res.s.Err = err.Error()
		return res
	}
	out := filepath.Join(b, "pass.out")
	mk := func(bin string, env []string, args ...string) func(string) call {
		return func(string) call {
			return call{Path: bin, Args: append([]string{"--root", root}, args...), Env: env, Out: out}
		}
	}
	envEnv := h.secrunEnv(rt.Path, h.cfgDefault)
	envCfg := withEnv(h.env, "SECRUN_CONFIG="+cfgRT)
	for _, k := range []struct {
		key, label string
		args       []string
	}{
		{"state", "state", []string{"state", id}},
		{"kill", "kill 0", []string{"kill", id, "0"}},
	} {
		direct := mk(rt.Path, h.env, k.args...)
		res.vs = append(res.vs,
			variant{Key: k.key, Label: k.label + ": " + rt.Name, call: direct},
			variant{Key: k.key + "-s", Label: k.label + ": secrun (SECRUN_RUNTIME)", call: mk(h.secrun, envEnv, k.args...)},
			variant{Key: k.key + "-c", Label: k.label + ": secrun (runtime from config)", call: mk(h.secrun, envCfg, k.args...)})
		if h.goexec != "" {
			// The direct call through goexec: the Go floor of a passthrough.
			res.vs = append(res.vs, variant{Key: k.key + "-g", Label: k.label + ": goexec → " + rt.Name,
				call: func(id string) call { return h.viaGoexec(direct(id)) }})
		}
	}
	res.s = h.interleave(rt.Name+"-pass-", res.vs, h.o.n)
	return res
}

// ---- syscalls inside the container ----

var loopSyscalls = []string{"getppid", "personality", "read"}

type sysResult struct {
	rt   runtimeInfo
	cfgs []string
	// ns[config][syscall] are the rounds' ns/op.
	ns     map[string]map[string][]float64
	status map[string]string // Seccomp/NoNewPrivs lines seen per config
	errs   []string
}

func (h *harness) benchSyscalls(rt runtimeInfo) sysResult {
	h.progress("%s: syscall loop, %d rounds x %d iterations", rt.Name, h.o.rounds, h.o.iters)
	res := sysResult{rt: rt, ns: map[string]map[string][]float64{}, status: map[string]string{}}
	root := h.root(rt)
	base, err := specFromJSON(h.loopOrig)
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return res
	}
	docker, err := dockerProfile(base)
	if err != nil {
		res.errs = append(res.errs, "Docker's profile: "+err.Error())
		return res
	}
	withDocker, err := withSeccomp(base, docker)
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return res
	}
	withSmall, err := withSeccomp(base, smallProfile())
	if err != nil {
		res.errs = append(res.errs, err.Error())
		return res
	}
	type cfg struct {
		name    string
		bin     string
		env     []string
		bundle  string
		fresh   []byte // rewritten before each run (secrun rewrites it)
		seccomp string // expected Seccomp: line
	}
	cfgs := []cfg{
		{name: "no filter (" + rt.Name + ")", bin: rt.Path, env: h.env, bundle: h.bundle(rt.Name+"-sys-none", h.loopOrig), seccomp: "0"},
		{name: "Docker default (" + rt.Name + ")", bin: rt.Path, env: h.env, bundle: h.bundle(rt.Name+"-sys-docker", encodeSpec(withDocker)), seccomp: "2"},
		{name: "secrun default", bin: h.secrun, env: h.secrunEnv(rt.Path, h.cfgDefault), bundle: h.bundle(rt.Name+"-sys-secrun", h.loopOrig), fresh: h.loopOrig, seccomp: "2"},
		{name: "small allowlist (" + rt.Name + ")", bin: rt.Path, env: h.env, bundle: h.bundle(rt.Name+"-sys-small", encodeSpec(withSmall)), seccomp: "2"},
	}
	failed := map[string]bool{}
	for r := 0; r < h.o.rounds && h.ctx.Err() == nil; r++ {
		for _, k := range rotation(r, len(cfgs)) {
			c := cfgs[k]
			res.cfgs = appendUnique(res.cfgs, c.name)
			if failed[c.name] {
				continue
			}
			if c.fresh != nil {
				h.writeConfig(c.bundle, c.fresh)
			}
			id := h.newID("sys")
			out := filepath.Join(c.bundle, "loop.out")
			rr := run(h.ctx, call{Path: c.bin, Args: []string{"--root", root, "run", "--bundle", c.bundle, id}, Env: c.env, Out: out}, h.o.timeout)
			if rr.Err != nil {
				h.remove(rt, id)
				failed[c.name] = true
				res.errs = append(res.errs, fmt.Sprintf("%s: %v", c.name, rr.Err))
				continue
			}
			vals, status := parseLoop(out)
			if got := status["Seccomp"]; got != c.seccomp {
				failed[c.name] = true
				res.errs = append(res.errs, fmt.Sprintf("%s: container reports Seccomp: %q, expected %s", c.name, got, c.seccomp))
				continue
			}
			res.status[c.name] = fmt.Sprintf("Seccomp %s, filters %s, NoNewPrivs %s, SSB: %s", status["Seccomp"], status["Seccomp_filters"], status["NoNewPrivs"], status["Speculation_Store_Bypass"])
			if res.ns[c.name] == nil {
				res.ns[c.name] = map[string][]float64{}
			}
			for _, s := range loopSyscalls {
				if v, ok := vals[s]; ok {
					res.ns[c.name][s] = append(res.ns[c.name][s], v)
				}
			}
		}
	}
	return res
}

func appendUnique(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

// parseLoop reads syscall_loop's output: "NAME NS" lines and status lines.
func parseLoop(path string) (map[string]float64, map[string]string) {
	vals := map[string]float64{}
	status := map[string]string{}
	data, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			status[strings.TrimSpace(k)] = strings.TrimSpace(v)
			continue
		}
		f := strings.Fields(line)
		if len(f) == 2 {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				vals[f[0]] = v
			}
		}
	}
	return vals, status
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// ---- peak memory ----

type memRow struct {
	label string
	kib   []float64
	err   string
}

// benchMemory measures ru_maxrss through the small static launcher
// (bench/maxrss.c): a child of the Go harness would start with the harness's
// RSS as its floor.
func (h *harness) benchMemory() []*memRow {
	h.progress("peak memory (max RSS) through %s", h.o.maxrss)
	root := filepath.Join(h.work, "roots", "none")
	tru := h.o.truePath
	bDef := h.bundle("mem-default", h.orig)
	bNoop := h.bundle("mem-noop", h.orig)
	bTrue := h.bundle("mem-true", h.orig)
	type memVariant struct {
		row     *memRow
		prepare func()
		call    func(id string) call
		after   func(id string)
	}
	var vs []memVariant
	add := func(label string, prepare func(), c func(id string) call, after func(id string)) {
		vs = append(vs, memVariant{&memRow{label: label}, prepare, c, after})
	}
	add(tru+" (the launcher's floor)", nil,
		func(id string) call { return h.createCallRoot(tru, root, bTrue, id, h.env) }, nil)
	if h.goexec != "" {
		add("goexec → "+tru+" (the Go floor)", nil,
			func(id string) call { return h.viaGoexec(h.createCallRoot(tru, root, bTrue, id, h.env)) }, nil)
	}
	add("secrun create, default policy → "+tru, func() { h.writeConfig(bDef, h.orig) },
		func(id string) call {
			return h.createCallRoot(h.secrun, root, bDef, id, h.secrunEnv(tru, h.cfgDefault))
		}, nil)
	add("secrun create, no-op policy → "+tru, func() { h.writeConfig(bNoop, h.orig) },
		func(id string) call { return h.createCallRoot(h.secrun, root, bNoop, id, h.secrunEnv(tru, h.cfgNoop)) }, nil)
	add("secrun state (passthrough) → "+tru, nil,
		func(id string) call {
			return call{Path: h.secrun, Args: []string{"--root", root, "state", id}, Env: h.secrunEnv(tru, h.cfgDefault)}
		}, nil)
	for _, rt := range h.runtimes {
		rt := rt
		rroot := h.root(rt)
		bA := h.bundle(rt.Name+"-mem-a", h.orig)
		bB := h.bundle(rt.Name+"-mem-b", h.orig)
		del := func(id string) { h.remove(rt, id) }
		add(rt.Name+" create (plain)", nil,
			func(id string) call { return h.createCallRoot(rt.Path, rroot, bA, id, h.env) }, del)
		add("secrun create → "+rt.Name+" (peak of the two)", func() { h.writeConfig(bB, h.orig) },
			func(id string) call {
				return h.createCallRoot(h.secrun, rroot, bB, id, h.secrunEnv(rt.Path, h.cfgDefault))
			}, del)
	}
	out := filepath.Join(h.work, "maxrss.out")
	n := min(h.o.n, 10)
	for i := 0; i < n && h.ctx.Err() == nil; i++ {
		for _, k := range rotation(i, len(vs)) {
			v := vs[k]
			if v.row.err != "" {
				continue
			}
			if v.prepare != nil {
				v.prepare()
			}
			id := h.newID("mem")
			c := v.call(id)
			c.Args = append([]string{out, c.Path}, c.Args...)
			c.Path = h.o.maxrss
			os.Remove(out)
			r := run(h.ctx, c, h.o.timeout)
			if v.after != nil {
				v.after(id)
			}
			data, _ := os.ReadFile(out)
			f := strings.Fields(string(data))
			if r.Err != nil || len(f) == 0 {
				v.row.err = fmt.Sprintf("%v %s", r.Err, data)
				continue
			}
			kib, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				v.row.err = err.Error()
				continue
			}
			v.row.kib = append(v.row.kib, kib)
		}
	}
	rows := make([]*memRow, len(vs))
	for i, v := range vs {
		rows[i] = v.row
	}
	return rows
}
