package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/config"
	"github.com/secrun/secrun/profiles"
	"github.com/secrun/secrun/spec"
)

// Version is set at build time.
var Version = "0.1.0-dev"

// Main runs secrun with argv and returns the exit status when it does not
// exec the runtime.
func Main(argv []string) int { return MainWith(argv, Extensions{}) }

// MainWith is Main in a binary that links extensions (secrun-tools).
func MainWith(argv []string, ext Extensions) int {
	inv := Parse(argv)
	inv.facts = nodeFacts()
	log := newLogger(inv.Globals)
	if reentered() {
		log.Error("the configured runtime leads back to secrun itself (runtime loop); point runtime in the node config or SECRUN_RUNTIME at runc or crun")
		return 1
	}
	switch {
	case inv.Command == "" && inv.Globals.Version:
		fmt.Printf("secrun version %s\n", Version)
		return passthrough(inv, log)
	case inv.Command == "" && inv.Globals.Help, inv.Command == "help" && len(inv.Args) == 0:
		fmt.Print(usage)
		return passthrough(inv, log)
	case inv.Command == "explain":
		return explain(inv, os.Stdout)
	case isToolCommand(inv.Command):
		if t := ext.Tools[inv.Command]; t != nil {
			return t(toolArgs(inv), os.Stdout, os.Stderr)
		}
		return handOff(inv, log)
	case inv.Command == "create", inv.Command == "run", inv.Command == "restore":
		return confine(inv, log, func(inv *Invocation, log *logger, cfg *config.Config, args *CmdArgs, runtime string) error {
			return createPolicy(ext.Recorder, inv, log, cfg, args, runtime)
		})
	case inv.Command == "exec":
		return confine(inv, log, execPolicy)
	}
	return passthrough(inv, log)
}

const usage = `secrun: a runc-compatible runtime that confines every container it creates.
It applies the node policy on create, run, restore and exec, then runs the real runtime.
secrun commands:
   explain [--bundle DIR]   show what the policy would change in a bundle, without writing
   check [--containerd-config PATH] [--no-containerd]
                            check that this node can confine containers (non-zero exit on failure)
   setup containerd [--config PATH] [--default] [--dry-run] [--uninstall]
                            register secrun as a containerd CRI runtime
   profile from-strace|validate|diff|merge|show ...
                            make, check and compare seccomp profiles
   apparmor generate|check|default ...
                            AppArmor profiles from a short policy, checked with apparmor_parser
   record --output FILE [--format oci|spo] [--bundle DIR] ID
                            run a container and write a profile of exactly the syscalls it made
   monitor [--output FILE] [--source auto|audit|kmsg]
                            turn kernel seccomp records of secrun containers into findings (JSON lines)
   findings summarize FILE...
                            per container: syscalls logged or denied, and the profile patch
Node config: $SECRUN_CONFIG or /etc/secrun/config.toml. Runtime: $SECRUN_RUNTIME or the config's runtime.

The real runtime's help follows.

`

// passthrough execs the runtime without reading the policy: a broken node
// config must never stop state, kill or delete from reaching the runtime.
func passthrough(inv *Invocation, log *logger) int {
	candidates := runtimeCandidates(nil)
	path, err := findRuntime(candidates)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	if err := checkPassthrough(path, inv); err != nil {
		log.Error(err.Error())
		return 1
	}
	if err := checkUpdate(inv.Argv); err != nil {
		log.Error(err.Error())
		return 1
	}
	log.Error(execRuntime(path, inv.Argv).Error())
	return 1
}

// runtimeCandidates: SECRUN_RUNTIME, else the loaded config's list, else the
// runtime key read leniently from the config file.
func runtimeCandidates(c *config.Config) []string {
	if env := os.Getenv("SECRUN_RUNTIME"); env != "" {
		return []string{env}
	}
	if c != nil {
		return c.Runtime
	}
	return config.RuntimeOnly(config.Path())
}

type policyStep func(inv *Invocation, log *logger, cfg *config.Config, args *CmdArgs, runtime string) error

// confine loads the policy, applies it, and execs the runtime. Any error
// fails closed: nothing is written and the runtime is not started.
func confine(inv *Invocation, log *logger, step policyStep) int {
	fail := func(err error) int {
		log.Error(err.Error())
		return 1
	}
	cfg, err := config.Load(config.Path())
	if err != nil {
		return fail(fmt.Errorf("%s refused: %w", inv.Command, err))
	}
	if cfg.Log.Level == "debug" {
		log.debug = true
	}
	runtime, err := findRuntime(runtimeCandidates(cfg))
	if err != nil {
		return fail(err)
	}
	args, err := parseFor(runtime, inv, getwd())
	if err != nil {
		return fail(err)
	}
	if err := step(inv, log, cfg, args, runtime); err == errHandOff {
		return handOff(inv, log)
	} else if err != nil {
		return fail(err)
	}
	return fail(execRuntime(runtime, inv.Argv))
}

func createPolicy(recorder Recorder, inv *Invocation, log *logger, node *config.Config, args *CmdArgs, runtime string) error {
	cfg, err := spec.LoadConfig(args.Bundle, args.Config)
	if err != nil {
		return fmt.Errorf("%s %s refused: %w", inv.Command, args.ID, err)
	}
	if wantsRecording(cfg.Spec) && recorder == nil {
		return errHandOff
	}
	cfg, kept, err := keepOriginal(cfg)
	if err != nil {
		return fmt.Errorf("%s %s refused: %w", inv.Command, args.ID, err)
	}
	pol, desc, err := node.PolicyFor(&profiles.AppArmorHost{}, cfg.Spec.Annotations)
	if err != nil {
		return fmt.Errorf("%s %s refused: %w", inv.Command, args.ID, err)
	}
	log.Debug("%s %s: effective policy: %s", inv.Command, args.ID, desc)
	if err := podSecurityInputs(cfg, pol, args.Bundle, inv.Globals.Root); err != nil {
		return fmt.Errorf("%s %s refused: %w", inv.Command, args.ID, err)
	}
	if pol.LogDenials && !inv.facts.supportsLogFlag(runtime) {
		pol.LogDenials = false
		log.Debug("%s %s: %s does not accept SECCOMP_FILTER_FLAG_LOG: denials are not logged for findings", inv.Command, args.ID, runtime)
	}
	changes, err := pol.ApplyConfig(cfg.Spec)
	if err != nil {
		return fmt.Errorf("%s %s refused by policy: %w", inv.Command, args.ID, err)
	}
	if err := checkLSM(args.LSM, pol, cfg.Spec.Process.ApparmorProfile); err != nil {
		return err
	}
	// Side effects on the host only now that every check passed.
	if err := pol.HostEffects(cfg.Spec); err != nil {
		return fmt.Errorf("%s %s refused: %w", inv.Command, args.ID, err)
	}
	agent, err := startRecording(recorder, node, cfg.Spec, args.ID)
	if err != nil {
		return fmt.Errorf("%s %s refused: %w", inv.Command, args.ID, err)
	}
	data, err := cfg.Encode()
	if err == nil {
		err = kept.save(cfg, data)
	}
	if err != nil {
		if agent != nil {
			agent.Cancel()
		}
		return fmt.Errorf("%s: %w", cfg.Path, err)
	}
	if agent != nil {
		changes = append(changes, spec.Change{Step: "record", Kind: spec.Note, Msg: fmt.Sprintf("agent %d records into %s", agent.PID, agent.Output)})
	}
	logPolicy(log, inv.Command, args.ID, cfg.Path, string(data) != string(cfg.Orig), changes)
	return nil
}

// podSecurityInputs gives the Pod Security checks what the spec does not
// say: the bundle that relative paths are resolved against, and the
// runtime's state directory.
func podSecurityInputs(c *spec.Config, pol *spec.Policy, bundle, root string) error {
	pol.PodSecurity.Bundle = bundle
	if root != "" {
		if abs, err := filepath.Abs(root); err == nil {
			pol.PodSecurity.HostDirs = append(pol.PodSecurity.HostDirs, abs)
		}
	}
	return nil
}

func wantsRecording(s *specs.Spec) bool {
	_, ok := s.Annotations[config.AnnRecord]
	return ok && s.Annotations[config.AnnContainerType] != "sandbox"
}

// startRecording honours the annotation secrun.io/record: NAME. It runs
// last, after the policy, so the recording filter stays inside the
// policy's profile; the output path comes from the node config and the
// CRI annotations, never from the pod.
func startRecording(recorder Recorder, node *config.Config, s *specs.Spec, id string) (*Agent, error) {
	if !wantsRecording(s) {
		return nil, nil
	}
	out, err := node.RecordingPath(s.Annotations, id, s.Annotations[config.AnnRecord])
	if err != nil {
		return nil, err
	}
	// The recorder makes the directories under recordings_dir, following
	// no symlink there (record/beneath.go).
	return recorder(s, id, out)
}

// checkLSM polices restore --lsm-profile: it may not swap the AppArmor
// profile the policy chose for something else.
func checkLSM(lsm string, pol *spec.Policy, want string) error {
	name, ok := strings.CutPrefix(lsm, "apparmor:")
	if !ok || !pol.AppArmor.HostSupports || name == want {
		return nil
	}
	return &spec.Error{Msg: fmt.Sprintf("restore --lsm-profile %s refused: the container's AppArmor profile is %q", lsm, want)}
}

func execPolicy(inv *Invocation, log *logger, node *config.Config, args *CmdArgs, runtime string) error {
	var container *specs.Process
	var ann map[string]string
	if c := containerSpec(runtime, inv.Globals, args.ID, log); c != nil {
		container, ann = c.Process, c.Annotations
	}
	pol, desc, err := node.PolicyFor(&profiles.AppArmorHost{}, ann)
	if err != nil {
		return fmt.Errorf("exec %s refused: %w", args.ID, err)
	}
	log.Debug("exec %s: effective policy: %s", args.ID, desc)
	var limit []string
	if container != nil && container.Capabilities != nil {
		limit = container.Capabilities.Bounding
	}
	for _, c := range args.Caps {
		n, err := profiles.CanonicalCap(c)
		if err != nil {
			return fmt.Errorf("exec %s refused: --cap %s: %w", args.ID, c, err)
		}
		if !slices.Contains(pol.CapAllow, n) || (container != nil && !slices.Contains(limit, n)) {
			return fmt.Errorf("exec %s refused by policy: --cap %s is beyond what the container was given (to allow it, add it to [capabilities] allow in %s for this workload)", args.ID, c, pol.Source)
		}
	}
	if args.AppArmor != "" && pol.AppArmor.HostSupports {
		want := pol.AppArmor.Profile
		if container != nil && container.ApparmorProfile != "" {
			want = container.ApparmorProfile
		}
		if args.AppArmor != want {
			return fmt.Errorf("exec %s refused by policy: --apparmor %s differs from the container's profile %q", args.ID, args.AppArmor, want)
		}
	}
	if args.Process == "" {
		// The runtime builds the process: see argForm.
		if args.User != "" {
			uid, err := execUID(args.User)
			if err != nil {
				return fmt.Errorf("exec %s refused: %w", args.ID, err)
			}
			if err := pol.CheckExecUser(uid); err != nil {
				return fmt.Errorf("exec %s refused by policy: %w", args.ID, err)
			}
		}
		return argForm(inv, args, pol.NoNewPrivileges || (container != nil && container.NoNewPrivileges))
	}
	p, err := spec.LoadProcess(args.Process)
	if err != nil {
		return fmt.Errorf("exec %s refused: %w", args.ID, err)
	}
	changes, err := pol.ApplyExec(p.Process, container)
	if err != nil {
		return fmt.Errorf("exec %s refused by policy: %w", args.ID, err)
	}
	data, err := p.Encode()
	if err != nil {
		return fmt.Errorf("%s: %w", p.Path, err)
	}
	changed, err := p.Save(data)
	if err != nil {
		return err
	}
	logPolicy(log, "exec", args.ID, p.Path, changed, changes)
	return nil
}

// containerSpec finds the confined spec of a running container: the
// runtime's state names its bundle, whose config.json secrun rewrote.
func containerSpec(runtime string, g Globals, id string, log *logger) *specs.Spec {
	if id == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := runtimeCommand(ctx, runtime, g, "state", id).Output()
	if err != nil {
		log.Debug("exec %s: state look-up failed (%v); limiting by the allowlist only", id, err)
		return nil
	}
	var st struct {
		Bundle string `json:"bundle"`
	}
	if json.Unmarshal(out, &st) != nil || st.Bundle == "" {
		return nil
	}
	c, err := spec.LoadConfig(st.Bundle, "")
	if err != nil {
		log.Debug("exec %s: bundle %s: %v", id, st.Bundle, err)
		return nil
	}
	return c.Spec
}

func logPolicy(log *logger, cmd, id, path string, changed bool, changes []spec.Change) {
	var all []string
	for _, c := range changes {
		if c.Kind == spec.Warning {
			log.Warn(fmt.Sprintf("%s %s: %s", cmd, id, c.Msg))
		}
		all = append(all, c.String())
	}
	if !log.debug {
		return
	}
	state := "unchanged"
	if changed {
		state = "rewritten"
	}
	log.Debug("%s %s: %s %s; effective policy: %s", cmd, id, path, state, strings.Join(all, "; "))
}

// explain prints what the policy would change in a bundle, writing nothing.
func explain(inv *Invocation, w io.Writer) int {
	args, err := ParseCmd("create", inv.Args, getwd())
	if err != nil {
		fmt.Fprintln(os.Stderr, "secrun explain:", err)
		return 2
	}
	cfg, err := config.Load(config.Path())
	if err != nil {
		fmt.Fprintln(os.Stderr, "secrun explain:", err)
		return 1
	}
	c, err := spec.LoadConfig(args.Bundle, args.Config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "secrun explain:", err)
		return 1
	}
	fmt.Fprintf(w, "bundle:  %s\n", args.Bundle)
	if c, _, err = keepOriginal(c); err != nil { // what create would confine
		fmt.Fprintf(w, "verdict: refused: %v\n", err)
		return 1
	}
	pol, desc, err := cfg.PolicyFor(&profiles.AppArmorHost{}, c.Spec.Annotations)
	if err != nil {
		fmt.Fprintf(w, "verdict: refused: %v\n", err)
		return 1
	}
	fmt.Fprintf(w, "policy:  %s: %s\n", pol.Source, desc)
	if err := podSecurityInputs(c, pol, args.Bundle, inv.Globals.Root); err != nil {
		fmt.Fprintf(w, "verdict: refused: %v\n", err)
		return 1
	}
	changes, err := pol.ApplyConfig(c.Spec)
	if err != nil {
		var pe *spec.Error
		if errors.As(err, &pe) {
			fmt.Fprintf(w, "verdict: refused: %s\n", pe.Msg)
			return 1
		}
		fmt.Fprintln(os.Stderr, "secrun explain:", err)
		return 1
	}
	data, err := c.Encode()
	if err != nil {
		fmt.Fprintln(os.Stderr, "secrun explain:", err)
		return 1
	}
	for _, ch := range changes {
		label := map[spec.Kind]string{spec.Changed: "change: ", spec.Note: "note:   ", spec.Warning: "warning:"}[ch.Kind]
		fmt.Fprintf(w, "%s %s\n", label, ch)
	}
	if string(data) == string(c.Orig) {
		fmt.Fprintln(w, "verdict: allowed; config.json already complies, it would not be rewritten")
	} else {
		fmt.Fprintf(w, "verdict: allowed; config.json would be rewritten (%d -> %d bytes)\n", len(c.Orig), len(data))
	}
	return 0
}
