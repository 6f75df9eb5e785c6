package setup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The integration test runs the real containerd 1.6 (Debian's, version 2
// config) and 2.2.1 (script/install-deps.sh builds it into
// /opt/secrun-test/bin, version 3 config) on configs secrun setup edited,
// each with its own root, state and sockets under a temp dir, and asks them
// through CRI (crictl info) and `containerd config dump` whether they see
// the runtime. It never touches /etc/containerd or /run/containerd.
//
// It needs root; it is skipped otherwise, and fails instead of skipping
// when SECRUN_INTEGRATION=1.

const (
	containerd16 = "/usr/bin/containerd"
	containerd22 = "/opt/secrun-test/bin/containerd"
	crictlBin    = "/opt/secrun-test/bin/crictl"
)

func integrationRequired() bool { return os.Getenv("SECRUN_INTEGRATION") == "1" }

func needIntegration(t *testing.T, bins ...string) {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		if integrationRequired() {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	if os.Geteuid() != 0 {
		skip("containerd integration test needs root")
	}
	for _, b := range bins {
		if _, err := os.Stat(b); err != nil {
			skip("%s missing (script/install-deps.sh installs it)", b)
		}
	}
}

// setKeysPlain sets keys in a config the way an admin would (no setup
// markers): it replaces the key's line, or adds it under its table's
// header, or appends the table.
func setKeysPlain(t *testing.T, text string, kv [][]string) string {
	t.Helper()
	for _, e := range kv {
		path, value := e[:len(e)-1], e[len(e)-1]
		lay, err := newLayout(text)
		if err != nil {
			t.Fatalf("scan: %v\n%s", err, text)
		}
		table, key := path[:len(path)-1], path[len(path)-1]
		if s, ok := lay.keyValue(path); ok {
			text = applyEdits(text, []edit{{start: s.startLine, end: s.endLine + 1, lines: newLines(s.indent + s.keyText + " = " + value)}})
		} else if h, ok := lay.header(table); ok {
			text = applyEdits(text, []edit{{start: h.endLine + 1, end: h.endLine + 1, lines: newLines(lay.tableIndent(h) + tomlKey(key) + " = " + value)}})
		} else if len(table) == 0 {
			v, _ := lay.keyValue([]string{"version"})
			text = applyEdits(text, []edit{{start: v.endLine + 1, end: v.endLine + 1, lines: newLines(tomlKey(key) + " = " + value)}})
		} else {
			text += "\n[" + tomlPath(table) + "]\n  " + tomlKey(key) + " = " + value + "\n"
		}
	}
	if _, err := decodeTOML("privatized config", text); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return text
}

// privatize points a config's paths at dir.
func privatize(t *testing.T, text string, version int, dir string, criKeys bool) string {
	q := tomlString
	kv := [][]string{
		{"root", q(dir + "/root")},
		{"state", q(dir + "/state")},
		{"grpc", "address", q(dir + "/c.sock")},
		{"ttrpc", "address", q(dir + "/c.sock.ttrpc")},
		{"plugins", "io.containerd.internal.v1.opt", "path", q(dir + "/opt")},
	}
	if version == 3 {
		kv = append(kv, []string{"plugins", "io.containerd.nri.v1.nri", "disable", "true"})
	}
	if criKeys {
		// this VM lacks CAP_SYS_RESOURCE; and CNI stays in the temp dir
		cri := criPlugin(version)
		kv = append(kv,
			[]string{"plugins", cri, "restrict_oom_score_adj", "true"},
			[]string{"plugins", cri, "cni", "conf_dir", q(dir + "/cni/conf")})
		if version == 2 {
			kv = append(kv, []string{"plugins", cri, "cni", "bin_dir", q(dir + "/cni/bin")})
		} else {
			kv = append(kv, []string{"plugins", cri, "cni", "bin_dirs", "[" + q(dir+"/cni/bin") + "]"})
		}
	}
	return setKeysPlain(t, text, kv)
}

type daemon struct {
	t    *testing.T
	bin  string
	cfg  string
	sock string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startContainerd(t *testing.T, bin, cfg, dir string) *daemon {
	t.Helper()
	d := &daemon{t: t, bin: bin, cfg: cfg, sock: dir + "/c.sock", log: dir + "/containerd.log", done: make(chan struct{})}
	if len(d.sock)+len(".ttrpc") >= 108 {
		t.Fatalf("socket path %s too long for a unix socket", d.sock)
	}
	logf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	d.cmd = exec.Command(bin, "--config", cfg)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(d.stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := d.crictl("info"); err == nil {
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("%s exited before serving CRI:\n%s", bin, read(t, d.log))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not serve CRI on %s within 60s:\n%s", bin, d.sock, read(t, d.log))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (d *daemon) crictl(args ...string) ([]byte, error) {
	full := append([]string{"--runtime-endpoint", "unix://" + d.sock, "--timeout", "10s"}, args...)
	var stderr bytes.Buffer
	cmd := exec.Command(crictlBin, full...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("crictl %v: %v\n%s", args, err, stderr.String())
	}
	return out, nil
}

// stop sends SIGTERM and waits; SIGKILL to the process group if it hangs.
func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		d.t.Errorf("%s did not stop on SIGTERM; killing it", d.bin)
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

// configDump runs `containerd --config CFG config dump` and decodes it.
func configDump(t *testing.T, bin, cfg string) map[string]any {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "--config", cfg, "config", "dump")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s config dump: %v\n%s", bin, err, stderr.String())
	}
	m, err := decodeTOML("config dump", string(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return m
}

func TestContainerdIntegration(t *testing.T) {
	cases := []struct {
		name     string
		bin      string
		fixture  string
		version  int
		args     []string
		criKeys  bool // the fixture has a CRI section we may add to
		dropIn   bool
		options  map[string]any // runc options that must carry over
		wantDflt string
	}{
		{name: "16-default", bin: containerd16, fixture: "v2-default.toml", version: 2, criKeys: true, wantDflt: "runc"},
		{name: "16-systemd", bin: containerd16, fixture: "v2-systemd.toml", version: 2, criKeys: true, args: []string{"--default"},
			options: map[string]any{"SystemdCgroup": true, "Root": "/run/containerd/runc"}, wantDflt: "secrun"},
		// no CRI section: the drop-in holds it, so the CRI keys cannot be
		// added to the main file (containerd 1.x would let the drop-in
		// replace them); CRI starts without them on this VM.
		{name: "16-minimal", bin: containerd16, fixture: "v2-minimal.toml", version: 2, dropIn: true, args: []string{"--default"}, wantDflt: "secrun"},
		{name: "22-default", bin: containerd22, fixture: "v3-default.toml", version: 3, criKeys: true, dropIn: true, wantDflt: "runc"},
		{name: "22-comments", bin: containerd22, fixture: "v3-comments.toml", version: 3, criKeys: true, dropIn: true, args: []string{"--default"},
			options: map[string]any{"SystemdCgroup": true}, wantDflt: "secrun"},
		{name: "22-inplace", bin: containerd22, fixture: "v3-default.toml", version: 3, criKeys: true, args: []string{"--in-place"}, wantDflt: "runc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			needIntegration(t, c.bin, crictlBin)
			dir := t.TempDir()
			for _, d := range []string{"cni/conf", "cni/bin"} {
				os.MkdirAll(filepath.Join(dir, d), 0o755)
			}
			secrun := filepath.Join(dir, "secrun")
			os.WriteFile(secrun, []byte("#!/bin/sh\nexec runc \"$@\"\n"), 0o755)
			cfg := filepath.Join(dir, "config.toml")
			text := privatize(t, read(t, filepath.Join("testdata", c.fixture)), c.version, dir, c.criKeys)
			os.WriteFile(cfg, []byte(text), 0o644)

			r := mustRun(t, append([]string{"containerd", "--config", cfg, "--binary", secrun}, c.args...)...)
			t.Logf("secrun setup:\n%s", r.stdout)
			drop := filepath.Join(dir, "conf.d", "secrun.toml")
			if exists(drop) != c.dropIn {
				t.Fatalf("drop-in exists = %v, want %v", exists(drop), c.dropIn)
			}

			// containerd's own view of the merged config
			tbl := containerdTable(c.version)
			dump := configDump(t, c.bin, cfg)
			dumpTbl := tbl
			if c.bin == containerd22 {
				dumpTbl = containerdTable(3) // 2.x dumps version 3
			}
			if got := get(dump, join(dumpTbl, "runtimes", "secrun", "options", "BinaryName")...); got != secrun {
				t.Errorf("config dump: secrun BinaryName = %v, want %s (drop-in honoured: %v)", got, secrun, c.dropIn)
			}
			if got := get(dump, join(dumpTbl, "default_runtime_name")...); got != c.wantDflt {
				t.Errorf("config dump: default_runtime_name = %v, want %s", got, c.wantDflt)
			}

			// and the running daemon's, through CRI
			d := startContainerd(t, c.bin, cfg, dir)
			out, err := d.crictl("info")
			if err != nil {
				t.Fatal(err)
			}
			var info struct {
				Status struct {
					Conditions []struct {
						Type   string
						Status bool
					}
				}
				Config struct {
					Containerd struct {
						DefaultRuntimeName string
						Runtimes           map[string]struct {
							RuntimeType    string
							PodAnnotations []string
							Options        map[string]any
						}
					}
				}
				RuntimeHandlers []struct{ Name string }
			}
			if err := json.Unmarshal(out, &info); err != nil {
				t.Fatalf("crictl info: %v\n%s", err, out)
			}
			ready := false
			for _, cond := range info.Status.Conditions {
				ready = ready || cond.Type == "RuntimeReady" && cond.Status
			}
			if !ready {
				t.Errorf("CRI runtime not ready: %+v\n%s", info.Status, read(t, d.log))
			}
			rt, ok := info.Config.Containerd.Runtimes["secrun"]
			if !ok {
				t.Fatalf("crictl info lists no secrun runtime:\n%s", out)
			}
			if rt.RuntimeType != "io.containerd.runc.v2" || !reflect.DeepEqual(rt.PodAnnotations, []string{"secrun.io/*"}) || rt.Options["BinaryName"] != secrun {
				t.Errorf("secrun runtime as containerd sees it: %+v", rt)
			}
			for k, v := range c.options {
				if rt.Options[k] != v {
					t.Errorf("runc option %s = %v in the secrun entry, want %v", k, rt.Options[k], v)
				}
			}
			if _, ok := info.Config.Containerd.Runtimes["runc"]; !ok {
				t.Errorf("runc runtime gone:\n%s", out)
			}
			if info.Config.Containerd.DefaultRuntimeName != c.wantDflt {
				t.Errorf("defaultRuntimeName = %q, want %q", info.Config.Containerd.DefaultRuntimeName, c.wantDflt)
			}
			if c.version == 3 {
				found := false
				for _, h := range info.RuntimeHandlers {
					found = found || h.Name == "secrun"
				}
				if !found {
					t.Errorf("runtimeHandlers lack secrun: %+v", info.RuntimeHandlers)
				}
			}
			d.stop()

			// uninstall: the config is the one we started from, and
			// containerd no longer sees the runtime
			mustRun(t, "containerd", "--config", cfg, "--uninstall")
			if got := read(t, cfg); got != text {
				t.Errorf("uninstall did not restore %s:\n%s", cfg, lineDiffString(text, got))
			}
			if exists(drop) {
				t.Errorf("uninstall left %s", drop)
			}
			dump = configDump(t, c.bin, cfg)
			if _, ok := lookup(dump, join(dumpTbl, "runtimes", "secrun")...); ok {
				t.Errorf("config dump still has the secrun runtime after --uninstall")
			}
			if got := get(dump, join(dumpTbl, "default_runtime_name")...); got != "runc" {
				t.Errorf("default_runtime_name after --uninstall = %v", got)
			}
			if strings.Contains(read(t, cfg), "secrun setup") {
				t.Errorf("marks left in %s", cfg)
			}
		})
	}
}
