package apparmorgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secrun/secrun/profiles"
)

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(h *profiles.AppArmorHost, args ...string) result {
	var out, errb strings.Builder
	if h == nil {
		h = &profiles.AppArmorHost{Root: "/"}
	}
	c := &cli{host: h, stdout: &out, stderr: &errb}
	code := c.run(args)
	return result{code, out.String(), errb.String()}
}

// fakeHost is an AppArmor host on a fake sysfs root whose apparmor_parser
// is a stub recording its arguments and standard input.
func fakeHost(t *testing.T, parserScript string) (*profiles.AppArmorHost, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sys/kernel/security/apparmor"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "sys/kernel/security/apparmor/profiles"), []byte("docker-default (enforce)\n"), 0o644)
	record := filepath.Join(root, "parser-input")
	parser := filepath.Join(root, "apparmor_parser")
	if parserScript == "" {
		parserScript = "echo \"$@\" > " + record + "\ncat >> " + record + "\n"
	}
	if err := os.WriteFile(parser, []byte("#!/bin/sh\n"+parserScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return &profiles.AppArmorHost{Root: root, Parser: parser, KernelEnabled: func() bool { return true }}, record
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMainUsage(t *testing.T) {
	var out, errb strings.Builder
	if code := Main(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage: secrun apparmor") {
		t.Errorf("no args: %d %q", code, errb.String())
	}
	r := runCLI(nil, "help")
	if r.code != 0 || r.stdout != Usage {
		t.Errorf("help: %+v", r)
	}
	r = runCLI(nil, "frobnicate")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %+v", r)
	}
	r = runCLI(nil, "generate")
	if r.code != 2 || !strings.Contains(r.stderr, "--policy FILE is required") {
		t.Errorf("generate without --policy: %+v", r)
	}
	r = runCLI(nil, "generate", "--policy", "x.toml", "extra")
	if r.code != 2 || !strings.Contains(r.stderr, `unexpected argument "extra"`) {
		t.Errorf("extra argument: %+v", r)
	}
	r = runCLI(nil, "generate", "--policy", "x.toml", "--name", "bad name")
	if r.code != 2 || !strings.Contains(r.stderr, "--name") {
		t.Errorf("bad --name: %+v", r)
	}
	r = runCLI(nil, "generate", "--policy", "x.toml", "--mode", "audit")
	if r.code != 2 || !strings.Contains(r.stderr, "--mode") {
		t.Errorf("bad --mode: %+v", r)
	}
	r = runCLI(nil, "generate", "--bogus")
	if r.code != 2 {
		t.Errorf("unknown flag: %+v", r)
	}
	r = runCLI(nil, "check")
	if r.code != 2 || !strings.Contains(r.stderr, "no profile files") {
		t.Errorf("check without files: %+v", r)
	}
	r = runCLI(nil, "default", "--mode", "loud")
	if r.code != 2 {
		t.Errorf("default --mode loud: %+v", r)
	}
}

func TestGenerateCommand(t *testing.T) {
	dir := t.TempDir()
	policy := writeFile(t, dir, "web.toml", "name = \"web\"\nmode = \"enforce\"\n[network]\nprotocols = [\"tcp\"]\n")

	r := runCLI(nil, "generate", "--policy", policy)
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "\nprofile web flags=(attach_disconnected,mediate_deleted) {\n") {
		t.Fatalf("generate: %+v", r)
	}
	want, _ := Generate(mustPolicy(t, policy, "name = \"web\"\n[network]\nprotocols = [\"tcp\"]\n"))
	if r.stdout != want {
		t.Error("stdout is not Generate's profile")
	}

	// --name and --mode override the policy; --output writes a file.
	out := filepath.Join(dir, "out", "profile")
	os.Mkdir(filepath.Dir(out), 0o755)
	r = runCLI(nil, "generate", "--policy="+policy, "--name", "web2", "--mode=complain", "--output", out)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("generate --output: %+v", r)
	}
	data, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(data), "\nprofile web2 flags=(attach_disconnected,mediate_deleted,complain) {\n") {
		t.Fatalf("output file: %v\n%s", err, data)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o644 {
		t.Errorf("output mode %v", st.Mode())
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}

	// A policy without a name needs --name.
	noname := writeFile(t, dir, "noname.yaml", "network: {raw: false}\n")
	r = runCLI(nil, "generate", "--policy", noname)
	if r.code != 1 || !strings.Contains(r.stderr, "no profile name") || !strings.Contains(r.stderr, noname) {
		t.Errorf("no name: %+v", r)
	}
	if r = runCLI(nil, "generate", "--policy", noname, "--name", "n"); r.code != 0 {
		t.Errorf("--name: %+v", r)
	}

	// An invalid policy: exit 1, the file and key named, nothing written.
	bad := writeFile(t, dir, "bad.toml", "name = \"x\"\n[filesystem]\nread_only_paths = [\"etc\"]\n")
	out2 := filepath.Join(dir, "out2")
	r = runCLI(nil, "generate", "--policy", bad, "--output", out2)
	if r.code != 1 || !strings.Contains(r.stderr, bad+": filesystem.read_only_paths[0]") {
		t.Errorf("bad policy: %+v", r)
	}
	if _, err := os.Stat(out2); err == nil {
		t.Error("a profile was written for an invalid policy")
	}
	r = runCLI(nil, "generate", "--policy", filepath.Join(dir, "missing.toml"))
	if r.code != 1 || !strings.Contains(r.stderr, "missing.toml") {
		t.Errorf("missing policy: %+v", r)
	}
	r = runCLI(nil, "generate", "--policy", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "not a regular file") {
		t.Errorf("directory as policy: %+v", r)
	}
}

// --load on a host with AppArmor: the profile goes to apparmor_parser -Kr.
func TestGenerateLoad(t *testing.T) {
	h, record := fakeHost(t, "")
	dir := t.TempDir()
	policy := writeFile(t, dir, "web.yaml", "name: web\n")
	out := filepath.Join(dir, "web")
	r := runCLI(h, "generate", "--policy", policy, "--output", out, "--load")
	if r.code != 0 || !strings.Contains(r.stderr, "loaded profile web") {
		t.Fatalf("load: %+v", r)
	}
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(out)
	if string(got) != "-Kr\n"+string(file) {
		t.Errorf("parser got %q, want -Kr and the written profile", got)
	}

	// The parser refuses the profile: written, not loaded, exit 1.
	h, _ = fakeHost(t, "echo 'AppArmor parser error: bad things' >&2\nexit 1\n")
	r = runCLI(h, "generate", "--policy", policy, "--load")
	if r.code != 1 || !strings.Contains(r.stderr, "profile web was written to standard output but not loaded") || !strings.Contains(r.stderr, "bad things") {
		t.Errorf("load failure: %+v", r)
	}
	if !strings.Contains(r.stdout, "profile web ") {
		t.Error("profile not written before the load was tried")
	}
}

// --load on a host without AppArmor fails, saying the profile was written
// but not loaded, and why.
func TestGenerateLoadUnsupported(t *testing.T) {
	dir := t.TempDir()
	policy := writeFile(t, dir, "web.toml", "name = \"web\"\n")
	out := filepath.Join(dir, "web")

	h, record := fakeHost(t, "")
	h.KernelEnabled = func() bool { return false }
	r := runCLI(h, "generate", "--policy", policy, "--output", out, "--load")
	if r.code != 1 || !strings.Contains(r.stderr, "profile web was written to "+out+" but not loaded") || !strings.Contains(r.stderr, "kernel does not have it enabled") {
		t.Errorf("kernel without AppArmor: %+v", r)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error("profile not written")
	}
	if _, err := os.Stat(record); err == nil {
		t.Error("parser run on a host without AppArmor")
	}

	h, _ = fakeHost(t, "")
	h.Parser = ""
	t.Setenv("PATH", "")
	r = runCLI(h, "generate", "--policy", policy, "--load")
	if r.code != 1 || !strings.Contains(r.stderr, "but not loaded") || !strings.Contains(r.stderr, "apparmor_parser is not in PATH") {
		t.Errorf("parser missing: %+v", r)
	}

	h, _ = fakeHost(t, "")
	os.WriteFile(filepath.Join(h.Root, ".dockerenv"), nil, 0o644)
	r = runCLI(h, "generate", "--policy", policy, "--load")
	if r.code != 1 || !strings.Contains(r.stderr, "but not loaded") || !strings.Contains(r.stderr, "inside a container") {
		t.Errorf("inside a container: %+v", r)
	}

	// This machine, as it is (its kernel has no AppArmor).
	if !(&profiles.AppArmorHost{Root: "/"}).Supported() {
		var o, e strings.Builder
		if code := Main([]string{"generate", "--policy", policy, "--output", out, "--load"}, &o, &e); code != 1 || !strings.Contains(e.String(), "written to "+out+" but not loaded") {
			t.Errorf("this host: %d %q", code, e.String())
		}
	}
}

func TestCheckCommand(t *testing.T) {
	parser := parserPath(t)
	dir := t.TempDir()
	good := writeFile(t, dir, "good", profiles.AppArmorDefault("good", false))
	bad := writeFile(t, dir, "bad", "profile bad {\n  /etc/** rw\n}\n")
	h := &profiles.AppArmorHost{Root: "/", Parser: parser}

	r := runCLI(h, "check", good)
	if r.code != 0 || r.stdout != "ok    "+good+"\n" {
		t.Errorf("check good: %+v", r)
	}
	r = runCLI(h, "check", good, bad, filepath.Join(dir, "missing"))
	if r.code != 1 || !strings.Contains(r.stdout, "ok    "+good) || !strings.Contains(r.stdout, "FAIL  "+bad) ||
		!strings.Contains(r.stdout, "FAIL  "+filepath.Join(dir, "missing")) || !strings.Contains(r.stderr, "2 of 3 profiles failed") {
		t.Errorf("check mixed: %+v", r)
	}
	if strings.Contains(r.stdout, "Cache read/write disabled") {
		t.Error("parser noise not filtered")
	}

	// The examples, generated and checked end to end.
	for _, ex := range exampleFiles(t) {
		out := filepath.Join(dir, filepath.Base(ex)+".profile")
		if r := runCLI(h, "generate", "--policy", ex, "--output", out); r.code != 0 {
			t.Fatalf("%s: %+v", ex, r)
		}
		if r := runCLI(h, "check", out); r.code != 0 {
			t.Errorf("%s: %+v", ex, r)
		}
	}
}

// check with a stub parser: its verdict and messages are reported.
func TestCheckStubParser(t *testing.T) {
	h, _ := fakeHost(t, "case \"$3\" in *bad*) echo \"error in $3\"; exit 1;; esac\n")
	dir := t.TempDir()
	good := writeFile(t, dir, "good", "x")
	bad := writeFile(t, dir, "bad", "x")
	r := runCLI(h, "check", good, bad)
	if r.code != 1 || !strings.Contains(r.stdout, "ok    "+good) || !strings.Contains(r.stdout, "FAIL  "+bad+"\n") || !strings.Contains(r.stdout, "error in "+bad) {
		t.Errorf("stub check: %+v", r)
	}
	// A parser that hangs (it can, on some expressions) is cut off, its
	// forked worker too.
	hang, _ := fakeHost(t, "sleep 300 &\nwait\n")
	defer func(d time.Duration) { checkTimeout = d }(checkTimeout)
	checkTimeout = 300 * time.Millisecond
	start := time.Now()
	r = runCLI(hang, "check", good)
	if r.code != 1 || !strings.Contains(r.stdout, "did not finish") || time.Since(start) > 10*time.Second {
		t.Errorf("hanging parser: %+v after %v", r, time.Since(start))
	}

	h.Parser = filepath.Join(dir, "none")
	r = runCLI(h, "check", good)
	if r.code != 2 || !strings.Contains(r.stderr, "apparmor_parser") || r.stdout != "" {
		t.Errorf("no parser: %+v", r)
	}
}
