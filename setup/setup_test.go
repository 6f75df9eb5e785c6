package setup

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const testBinary = "/usr/local/bin/secrun"

// fixture copies testdata/name to DIR/config.toml.
func fixture(t *testing.T, name string) (dir, cfg string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return writeConfig(t, string(b))
}

func writeConfig(t *testing.T, text string) (dir, cfg string) {
	t.Helper()
	dir = t.TempDir()
	cfg = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

type result struct {
	rc             int
	stdout, stderr string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	rc := Main(args, &out, &errb)
	return result{rc, out.String(), errb.String()}
}

func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := run(t, args...)
	if r.rc != 0 {
		t.Fatalf("secrun setup %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.rc, r.stdout, r.stderr)
	}
	return r
}

func install(t *testing.T, cfg string, extra ...string) result {
	t.Helper()
	return mustRun(t, append([]string{"containerd", "--config", cfg, "--binary", testBinary}, extra...)...)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func decodeFile(t *testing.T, path string) map[string]any {
	t.Helper()
	m, err := decodeTOML(path, read(t, path))
	if err != nil {
		t.Fatalf("%s does not decode: %v\n%s", path, err, read(t, path))
	}
	return m
}

func get(m map[string]any, path ...string) any {
	v, _ := lookup(m, path...)
	return v
}

// snapshot records every file in dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			out[p] = read(t, p)
		}
		return nil
	})
	return out
}

type installCase struct {
	fixture  string
	version  int
	dropIn   bool
	addRunc  bool
	options  map[string]any // expected options besides BinaryName
	comments []string       // lines that must survive
}

var installCases = []installCase{
	{fixture: "v2-default.toml", version: 2, options: map[string]any{
		"CriuImagePath": "", "CriuPath": "", "CriuWorkPath": "", "IoGid": int64(0), "IoUid": int64(0),
		"NoNewKeyring": false, "NoPivotRoot": false, "Root": "", "ShimCgroup": "", "SystemdCgroup": false}},
	{fixture: "v3-default.toml", version: 3, dropIn: true, options: map[string]any{
		"CriuImagePath": "", "CriuWorkPath": "", "IoGid": int64(0), "IoUid": int64(0),
		"NoNewKeyring": false, "Root": "", "ShimCgroup": "", "SystemdCgroup": false}},
	{fixture: "v2-minimal.toml", version: 2, dropIn: true, addRunc: true, options: map[string]any{},
		comments: []string{"# containerd 1.6 config without a CRI section: CRI runs on its defaults."}},
	{fixture: "v2-systemd.toml", version: 2, options: map[string]any{"SystemdCgroup": true, "Root": "/run/containerd/runc"},
		comments: []string{"# Node config managed by hand. Keep the comments!", "imports = []   # none yet",
			"      # runc stays the default for now", "          SystemdCgroup = true   # the kubelet uses the systemd driver"}},
	{fixture: "v2-cni-only.toml", version: 2, addRunc: true, options: map[string]any{}},
	{fixture: "v3-comments.toml", version: 3, dropIn: true, options: map[string]any{"SystemdCgroup": true, "NoNewKeyring": false},
		comments: []string{"# Written by ops; do not reformat.", "root = '/var/lib/containerd'   # the big disk",
			"      default_runtime_name = 'runc'   # keep runc the default", "  # CRI runtime settings"}},
}

// entryFile is where the runtime entry lives after install.
func (c installCase) entryFile(dir string) string {
	if c.dropIn {
		return filepath.Join(dir, "conf.d", "secrun.toml")
	}
	return filepath.Join(dir, "config.toml")
}

func TestInstallUninstall(t *testing.T) {
	for _, c := range installCases {
		t.Run(c.fixture, func(t *testing.T) {
			dir, cfg := fixture(t, c.fixture)
			orig := read(t, cfg)
			drop := filepath.Join(dir, "conf.d", "secrun.toml")

			r := install(t, cfg)
			if !strings.Contains(r.stdout, `registered runtime "secrun"`) {
				t.Errorf("stdout does not say what it did:\n%s", r.stdout)
			}
			if exists(drop) != c.dropIn {
				t.Fatalf("drop-in exists: %v, want %v", exists(drop), c.dropIn)
			}
			tbl := containerdTable(c.version)
			m := decodeFile(t, c.entryFile(dir))
			ent, ok := get(m, join(tbl, "runtimes", "secrun")...).(map[string]any)
			if !ok {
				t.Fatalf("no runtimes.secrun in %s:\n%s", c.entryFile(dir), read(t, c.entryFile(dir)))
			}
			if ent["runtime_type"] != "io.containerd.runc.v2" {
				t.Errorf("runtime_type = %v", ent["runtime_type"])
			}
			if !reflect.DeepEqual(ent["pod_annotations"], []any{"secrun.io/*"}) {
				t.Errorf("pod_annotations = %v", ent["pod_annotations"])
			}
			want := map[string]any{"BinaryName": testBinary}
			for k, v := range c.options {
				want[k] = v
			}
			if !reflect.DeepEqual(ent["options"], want) {
				t.Errorf("options = %v\nwant %v", ent["options"], want)
			}
			_, hasRunc := lookup(m, join(tbl, "runtimes", "runc")...)
			if c.addRunc && !hasRunc {
				t.Errorf("containerd 1.x needs the runc entry next to ours, missing in:\n%s", read(t, c.entryFile(dir)))
			}

			// the user's lines are all still there
			after := read(t, cfg)
			for _, l := range c.comments {
				if !strings.Contains(after, l+"\n") {
					t.Errorf("line %q lost:\n%s", l, after)
				}
			}
			for _, l := range strings.Split(orig, "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "#") && !strings.Contains(after, l) {
					t.Errorf("comment %q lost", l)
				}
			}
			// the main file still says everything it said
			om, _ := decodeTOML("original", orig)
			nm := decodeFile(t, cfg)
			delete(nm, "imports")
			delete(om, "imports")
			if !c.dropIn {
				delete(get(nm, tbl...).(map[string]any)["runtimes"].(map[string]any), "secrun")
				if c.addRunc {
					delete(get(nm, tbl...).(map[string]any), "runtimes")
					if len(get(nm, tbl...).(map[string]any)) == 0 {
						delete(get(nm, tbl[:2]...).(map[string]any), "containerd")
					}
				}
			}
			if !reflect.DeepEqual(om, nm) {
				t.Errorf("install changed other settings of %s", cfg)
			}
			if got := read(t, cfg+backupSuffix); got != orig && after != orig {
				t.Errorf("backup differs from the original")
			}

			// idempotent
			before := snapshot(t, dir)
			r = install(t, cfg)
			if !strings.Contains(r.stdout, "nothing changed") {
				t.Errorf("second run does not say nothing changed:\n%s", r.stdout)
			}
			if !reflect.DeepEqual(before, snapshot(t, dir)) {
				t.Errorf("second run changed files")
			}

			// uninstall restores the original byte for byte
			r = mustRun(t, "containerd", "--config", cfg, "--uninstall")
			if got := read(t, cfg); got != orig {
				t.Errorf("uninstall did not restore %s:\n%s", cfg, lineDiffString(orig, got))
			}
			if exists(drop) {
				t.Errorf("uninstall left %s", drop)
			}
			r = mustRun(t, "containerd", "--config", cfg, "--uninstall")
			if !strings.Contains(r.stdout, "nothing to remove") {
				t.Errorf("second uninstall: %s", r.stdout)
			}
		})
	}
}

func lineDiffString(a, b string) string {
	var buf bytes.Buffer
	lineDiff(&buf, "want", "got", a, b)
	return buf.String()
}

func TestDefault(t *testing.T) {
	for _, c := range installCases {
		t.Run(c.fixture, func(t *testing.T) {
			dir, cfg := fixture(t, c.fixture)
			orig := read(t, cfg)
			tbl := containerdTable(c.version)
			prev := get(decodeFile(t, cfg), join(tbl, "default_runtime_name")...)

			r := install(t, cfg, "--default")
			if !strings.Contains(r.stdout, `set default_runtime_name to "secrun"`) {
				t.Errorf("stdout:\n%s", r.stdout)
			}
			m := decodeFile(t, c.entryFile(dir))
			if got := get(m, join(tbl, "default_runtime_name")...); got != "secrun" {
				t.Fatalf("default_runtime_name = %v in %s:\n%s", got, c.entryFile(dir), read(t, c.entryFile(dir)))
			}
			if c.dropIn {
				// the main file keeps its own value; the drop-in wins when
				// containerd merges it
				if got := get(decodeFile(t, cfg), join(tbl, "default_runtime_name")...); got != prev {
					t.Errorf("main default_runtime_name = %v, want %v", got, prev)
				}
			}
			before := snapshot(t, dir)
			install(t, cfg, "--default")
			if !reflect.DeepEqual(before, snapshot(t, dir)) {
				t.Errorf("second run changed files")
			}
			// a run without --default takes the default back
			install(t, cfg)
			want := prev
			if c.dropIn {
				want = nil // the drop-in does not set it
			}
			if got := get(decodeFile(t, c.entryFile(dir)), join(tbl, "default_runtime_name")...); got != want {
				t.Errorf("after a run without --default, default_runtime_name = %v, want %v", got, want)
			}
			install(t, cfg, "--default")
			mustRun(t, "containerd", "--config", cfg, "--uninstall")
			if got := read(t, cfg); got != orig {
				t.Errorf("uninstall did not restore %s:\n%s", cfg, lineDiffString(orig, got))
			}
		})
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	for _, c := range installCases {
		t.Run(c.fixture, func(t *testing.T) {
			dir, cfg := fixture(t, c.fixture)
			before := snapshot(t, dir)
			r := install(t, cfg, "--dry-run", "--default")
			if !reflect.DeepEqual(before, snapshot(t, dir)) {
				t.Fatalf("--dry-run wrote files")
			}
			if !strings.Contains(r.stdout, "+[plugins.") || !strings.Contains(r.stdout, "runtimes.secrun]") ||
				!strings.Contains(r.stdout, "dry run: nothing written") {
				t.Errorf("dry run output lacks the diff:\n%s", r.stdout)
			}
			if !strings.Contains(r.stdout, "--- "+cfg) && !strings.Contains(r.stdout, "+++ "+filepath.Join(dir, "conf.d", "secrun.toml")) {
				t.Errorf("dry run output names no file:\n%s", r.stdout)
			}
			// and for uninstall
			install(t, cfg)
			before = snapshot(t, dir)
			r = mustRun(t, "containerd", "--config", cfg, "--uninstall", "--dry-run")
			if !reflect.DeepEqual(before, snapshot(t, dir)) {
				t.Fatalf("--uninstall --dry-run wrote files")
			}
			if !strings.Contains(r.stdout, "-[plugins.") {
				t.Errorf("uninstall dry run output lacks the diff:\n%s", r.stdout)
			}
		})
	}
}

func TestDryRunDiff(t *testing.T) {
	_, cfg := fixture(t, "v2-systemd.toml")
	r := install(t, cfg, "--dry-run", "--default")
	want := `--- ` + cfg + `
+++ ` + cfg + `
@@ -7,7 +7,8 @@
     sandbox_image = 'registry.k8s.io/pause:3.9'  # pinned
     [plugins."io.containerd.grpc.v1.cri".containerd]
       # runc stays the default for now
-      default_runtime_name = "runc"
+      # replaced by secrun setup containerd: default_runtime_name = "runc"
+      default_runtime_name = 'secrun'  # added by secrun setup containerd
       snapshotter = "overlayfs"
       [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
         runtime_type = "io.containerd.runc.v2"
@@ -17,3 +18,15 @@
     [plugins."io.containerd.grpc.v1.cri".cni]
       bin_dir = "/opt/cni/bin"
       conf_dir = "/etc/cni/net.d"
+
+# added by secrun setup containerd: begin
+# ` + "`secrun setup containerd --uninstall`" + ` removes everything between these markers.
+[plugins.'io.containerd.grpc.v1.cri'.containerd.runtimes.secrun]
+  runtime_type = 'io.containerd.runc.v2'
+  pod_annotations = ['secrun.io/*']
+
+[plugins.'io.containerd.grpc.v1.cri'.containerd.runtimes.secrun.options]
+  BinaryName = '/usr/local/bin/secrun'
+  SystemdCgroup = true
+  Root = '/run/containerd/runc'
+# added by secrun setup containerd: end
`
	if !strings.HasPrefix(r.stdout, want) {
		t.Errorf("diff:\n%s\nwant:\n%s", r.stdout, want)
	}
}

func TestRefused(t *testing.T) {
	for _, c := range []struct {
		fixture string
		want    []string
	}{
		{"v1.toml", []string{"version 1", "containerd config migrate", "config.toml"}},
		{"malformed.toml", []string{"config.toml is not valid TOML", "line 2", "nothing was changed"}},
		{"v2-inline.toml", []string{"config.toml:5", "inline table", `[plugins.'io.containerd.grpc.v1.cri'.containerd.runtimes.secrun]`}},
	} {
		t.Run(c.fixture, func(t *testing.T) {
			dir, cfg := fixture(t, c.fixture)
			before := snapshot(t, dir)
			for _, extra := range [][]string{nil, {"--default"}, {"--dry-run"}} {
				r := run(t, append([]string{"containerd", "--config", cfg, "--binary", testBinary}, extra...)...)
				if r.rc != 1 {
					t.Fatalf("exit %d, want 1\n%s%s", r.rc, r.stdout, r.stderr)
				}
				for _, w := range c.want {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("error does not mention %q:\n%s", w, r.stderr)
					}
				}
				if !reflect.DeepEqual(before, snapshot(t, dir)) {
					t.Fatalf("files changed after an error")
				}
			}
		})
	}
}

func TestInlineDefaultRefused(t *testing.T) {
	dir, cfg := writeConfig(t, `version = 3
[plugins."io.containerd.cri.v1.runtime"]
  containerd = { default_runtime_name = "runc" }
`)
	before := snapshot(t, dir)
	r := run(t, "containerd", "--config", cfg, "--binary", testBinary, "--in-place", "--default")
	if r.rc != 1 || !strings.Contains(r.stderr, cfg+":3") {
		t.Errorf("exit %d:\n%s", r.rc, r.stderr)
	}
	if !reflect.DeepEqual(before, snapshot(t, dir)) {
		t.Fatalf("files changed after an error")
	}
}

func TestMissingConfig(t *testing.T) {
	for _, version := range []int{2, 3} {
		v := strconv.Itoa(version)
		t.Run("v"+v, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "containerd", "config.toml")
			os.MkdirAll(filepath.Dir(cfg), 0o755)
			install(t, cfg, "--version", v, "--default")
			m := decodeFile(t, cfg)
			if m["version"] != int64(version) {
				t.Errorf("version = %v", m["version"])
			}
			drop := filepath.Join(dir, "containerd", "conf.d", "secrun.toml")
			if !reflect.DeepEqual(m["imports"], []any{drop}) {
				t.Errorf("imports = %v", m["imports"])
			}
			d := decodeFile(t, drop)
			tbl := containerdTable(version)
			if get(d, join(tbl, "runtimes", "secrun", "options", "BinaryName")...) != testBinary || get(d, join(tbl, "default_runtime_name")...) != "secrun" {
				t.Errorf("drop-in:\n%s", read(t, drop))
			}
			if exists(cfg + backupSuffix) {
				t.Errorf("backup of a file that did not exist")
			}
			before := snapshot(t, dir)
			install(t, cfg, "--version", v, "--default")
			if !reflect.DeepEqual(before, snapshot(t, dir)) {
				t.Errorf("second run changed files")
			}
			mustRun(t, "containerd", "--config", cfg, "--uninstall")
			if exists(cfg) || exists(drop) {
				t.Errorf("uninstall left the files it created")
			}
		})
	}
	// a config version that does not match the file's
	_, cfg := fixture(t, "v3-default.toml")
	if r := run(t, "containerd", "--config", cfg, "--binary", testBinary, "--version", "2"); r.rc != 1 || !strings.Contains(r.stderr, "version 3 config, not version 2") {
		t.Errorf("exit %d: %s", r.rc, r.stderr)
	}
}

func TestInstalledConfigVersion(t *testing.T) {
	for bin, want := range map[string]int{"/usr/bin/containerd": 2, "/opt/secrun-test/bin/containerd": 3} {
		if !exists(bin) {
			if os.Getenv("SECRUN_INTEGRATION") == "1" {
				t.Fatalf("%s missing", bin)
			}
			t.Logf("%s missing, skipped", bin)
			continue
		}
		got, ver, err := installedConfigVersion(bin)
		if err != nil || got != want {
			t.Errorf("%s: %d %s %v, want %d", bin, got, ver, err, want)
		}
	}
}

func TestChangeBinaryReplacesEntry(t *testing.T) {
	for _, fx := range []string{"v2-systemd.toml", "v3-comments.toml"} {
		t.Run(fx, func(t *testing.T) {
			dir, cfg := fixture(t, fx)
			orig := read(t, cfg)
			install(t, cfg, "--default")
			mustRun(t, "containerd", "--config", cfg, "--binary", "/opt/secrun/bin/secrun", "--default")
			for p, text := range snapshot(t, dir) {
				if p != cfg+backupSuffix && strings.Contains(text, testBinary) {
					t.Errorf("old binary still in %s", p)
				}
			}
			if n := strings.Count(read(t, cfg), "runtimes.secrun]"); fx == "v2-systemd.toml" && n != 1 {
				t.Errorf("%d secrun entries:\n%s", n, read(t, cfg))
			}
			mustRun(t, "containerd", "--config", cfg, "--uninstall")
			if read(t, cfg) != orig {
				t.Errorf("not restored")
			}
		})
	}
}

func TestImportGlobCovers(t *testing.T) {
	dir, cfg := writeConfig(t, "version = 3\nimports = ['conf.d/*.toml']\n")
	orig := read(t, cfg)
	r := install(t, cfg)
	if read(t, cfg) != orig {
		t.Errorf("main file changed though its imports cover the drop-in:\n%s", read(t, cfg))
	}
	if !strings.Contains(r.stdout, "already imports") || exists(cfg+backupSuffix) {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if !exists(filepath.Join(dir, "conf.d", "secrun.toml")) {
		t.Fatal("no drop-in")
	}
	mustRun(t, "containerd", "--config", cfg, "--uninstall")
	if exists(filepath.Join(dir, "conf.d", "secrun.toml")) || read(t, cfg) != orig {
		t.Errorf("uninstall")
	}

	// version 2: containerd 1.x resolves a relative glob from its working
	// directory, so it does not count
	_, cfg = writeConfig(t, "version = 2\nimports = ['conf.d/*.toml']\n")
	install(t, cfg)
	if m := decodeFile(t, cfg); len(m["imports"].([]any)) != 2 {
		t.Errorf("imports = %v", m["imports"])
	}
}

func TestLineEndings(t *testing.T) {
	src := read(t, filepath.Join("testdata", "v2-systemd.toml"))
	for name, text := range map[string]string{
		"crlf":              strings.ReplaceAll(src, "\n", "\r\n"),
		"no-final-eol":      strings.TrimSuffix(src, "\n"),
		"crlf-no-final":     strings.TrimSuffix(strings.ReplaceAll(src, "\n", "\r\n"), "\r\n"),
		"v3-no-final":       strings.TrimSuffix(read(t, filepath.Join("testdata", "v3-comments.toml")), "\n"),
		"last-line-default": "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"runc\"",
		"last-line-header":  "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]",
		"last-line-imports": "version = 3\nimports = []",
	} {
		t.Run(name, func(t *testing.T) {
			_, cfg := writeConfig(t, text)
			install(t, cfg, "--default")
			got := read(t, cfg)
			if strings.Contains(text, "\r\n") && strings.Count(got, "\n") != strings.Count(got, "\r\n") {
				t.Errorf("mixed line endings:\n%q", got)
			}
			decodeFile(t, cfg)
			install(t, cfg, "--default")
			if read(t, cfg) != got {
				t.Errorf("second run changed the file")
			}
			mustRun(t, "containerd", "--config", cfg, "--uninstall")
			if read(t, cfg) != text {
				t.Errorf("not restored:\n%q\nwant\n%q", read(t, cfg), text)
			}
		})
	}
}

func TestDottedKeys(t *testing.T) {
	text := `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  containerd.snapshotter = "overlayfs"
  containerd.runtimes.runc.runtime_type = "io.containerd.runc.v2"
  containerd.runtimes.runc.options.SystemdCgroup = true
`
	_, cfg := writeConfig(t, text)
	install(t, cfg, "--default")
	m := decodeFile(t, cfg)
	tbl := containerdTable(2)
	if get(m, join(tbl, "default_runtime_name")...) != "secrun" || get(m, join(tbl, "runtimes", "secrun", "options", "SystemdCgroup")...) != true {
		t.Errorf("result:\n%s", read(t, cfg))
	}
	mustRun(t, "containerd", "--config", cfg, "--uninstall")
	if read(t, cfg) != text {
		t.Errorf("not restored")
	}
}

func TestContainerdTableWithoutHeader(t *testing.T) {
	// containerd exists only through its sub-table: --default adds the
	// [..containerd] table in setup's block
	text := `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
`
	_, cfg := writeConfig(t, text)
	install(t, cfg, "--default")
	if get(decodeFile(t, cfg), join(containerdTable(2), "default_runtime_name")...) != "secrun" {
		t.Errorf("result:\n%s", read(t, cfg))
	}
	mustRun(t, "containerd", "--config", cfg, "--uninstall")
	if read(t, cfg) != text {
		t.Errorf("not restored")
	}
}

func TestInPlaceV3(t *testing.T) {
	dir, cfg := fixture(t, "v3-default.toml")
	orig := read(t, cfg)
	r := install(t, cfg, "--in-place", "--default")
	if !strings.Contains(r.stdout, "--in-place") || exists(filepath.Join(dir, "conf.d")) {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	m := decodeFile(t, cfg)
	tbl := containerdTable(3)
	if get(m, join(tbl, "runtimes", "secrun", "options", "BinaryName")...) != testBinary || get(m, join(tbl, "default_runtime_name")...) != "secrun" {
		t.Errorf("result:\n%s", read(t, cfg))
	}
	// switching back to a drop-in moves the entry
	install(t, cfg)
	if !exists(filepath.Join(dir, "conf.d", "secrun.toml")) || strings.Contains(read(t, cfg), "runtimes.secrun") {
		t.Errorf("entry not moved to the drop-in")
	}
	mustRun(t, "containerd", "--config", cfg, "--uninstall")
	if read(t, cfg) != orig {
		t.Errorf("not restored")
	}
}

func TestModeSwitchV2(t *testing.T) {
	// installed as a drop-in; then the admin adds a CRI section: containerd
	// 1.x would let the drop-in replace it, so a re-run moves the entry
	dir, cfg := fixture(t, "v2-minimal.toml")
	install(t, cfg)
	drop := filepath.Join(dir, "conf.d", "secrun.toml")
	if !exists(drop) {
		t.Fatal("no drop-in")
	}
	f, _ := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause:3.9\"\n")
	f.Close()
	edited := read(t, cfg)
	r := install(t, cfg)
	if exists(drop) {
		t.Errorf("drop-in left behind")
	}
	m := decodeFile(t, cfg)
	if _, ok := m["imports"]; ok {
		t.Errorf("import left behind")
	}
	if get(m, join(containerdTable(2), "runtimes", "secrun", "options", "BinaryName")...) != testBinary || get(m, "plugins", criPluginV2, "sandbox_image") != "pause:3.9" {
		t.Errorf("result:\n%s\n%s", read(t, cfg), r.stdout)
	}
	mustRun(t, "containerd", "--config", cfg, "--uninstall")
	want := strings.Replace(edited, "imports = ['"+drop+"']  # added by secrun setup containerd\n", "", 1)
	if read(t, cfg) != want {
		t.Errorf("uninstall:\n%s", lineDiffString(want, read(t, cfg)))
	}
}

func TestImportedCRISectionV2(t *testing.T) {
	dir, cfg := writeConfig(t, "")
	other := filepath.Join(dir, "cri.toml")
	os.WriteFile(other, []byte("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"x\"\n"), 0o644)
	os.WriteFile(cfg, []byte("version = 2\nimports = [\""+other+"\"]\n"), 0o644)
	before := snapshot(t, dir)
	r := run(t, "containerd", "--config", cfg, "--binary", testBinary)
	if r.rc != 1 || !strings.Contains(r.stderr, other) || !strings.Contains(r.stderr, "--config "+other) {
		t.Errorf("exit %d: %s", r.rc, r.stderr)
	}
	if !reflect.DeepEqual(before, snapshot(t, dir)) {
		t.Fatalf("files changed after an error")
	}
}

func TestLaterImportOverridesDefault(t *testing.T) {
	// containerd 2.x loads imports in order: a file after the drop-in that
	// sets default_runtime_name wins, and setup says so instead of
	// pretending
	dir, cfg := writeConfig(t, "")
	late := filepath.Join(dir, "zz.toml")
	os.WriteFile(late, []byte("version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd]\n  default_runtime_name = 'runc'\n"), 0o644)
	os.WriteFile(cfg, []byte("version = 3\nimports = ['"+filepath.Join(dir, "conf.d", "*.toml")+"', '"+late+"']\n"), 0o644)
	before := snapshot(t, dir)
	r := run(t, "containerd", "--config", cfg, "--binary", testBinary, "--default")
	if r.rc != 1 || !strings.Contains(r.stderr, "default_runtime_name would still be runc") {
		t.Errorf("exit %d: %s", r.rc, r.stderr)
	}
	if !reflect.DeepEqual(before, snapshot(t, dir)) {
		t.Fatalf("files changed after an error")
	}
	install(t, cfg) // without --default it is fine
}

func TestConflicts(t *testing.T) {
	dir, cfg := writeConfig(t, `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.secrun]
  runtime_type = "io.containerd.runc.v2"
`)
	before := snapshot(t, dir)
	if r := run(t, "containerd", "--config", cfg, "--binary", testBinary); r.rc != 1 || !strings.Contains(r.stderr, `already defines runtime "secrun"`) {
		t.Errorf("exit %d: %s", r.rc, r.stderr)
	}
	install(t, cfg, "--runtime-name", "secrun-strict")
	if get(decodeFile(t, cfg), join(containerdTable(2), "runtimes", "secrun-strict", "options", "BinaryName")...) != testBinary {
		t.Errorf("result:\n%s", read(t, cfg))
	}
	mustRun(t, "containerd", "--config", cfg, "--uninstall")
	if read(t, cfg) != before[cfg] {
		t.Errorf("not restored")
	}

	// a drop-in someone else wrote
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "conf.d", "secrun.toml"), []byte("version = 2\n"), 0o644)
	if r := run(t, "containerd", "--config", cfg, "--binary", testBinary); r.rc != 1 || !strings.Contains(r.stderr, "not written by secrun setup") {
		t.Errorf("exit %d: %s", r.rc, r.stderr)
	}
}

func TestKeepsModeAndBackup(t *testing.T) {
	_, cfg := fixture(t, "v2-systemd.toml")
	orig := read(t, cfg)
	os.Chmod(cfg, 0o600)
	install(t, cfg)
	for _, p := range []string{cfg, cfg + backupSuffix} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", p, fi.Mode(), err)
		}
	}
	// the backup holds the original and is never overwritten
	mustRun(t, "containerd", "--config", cfg, "--binary", "/other/secrun")
	if read(t, cfg+backupSuffix) != orig {
		t.Errorf("backup changed")
	}
	// no temp files left
	ents, _ := os.ReadDir(filepath.Dir(cfg))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left %s", e.Name())
		}
	}
}

func TestTamperedMarks(t *testing.T) {
	_, cfg := fixture(t, "v2-systemd.toml")
	install(t, cfg)
	text := strings.Replace(read(t, cfg), markerEnd+"\n", "", 1)
	os.WriteFile(cfg, []byte(text), 0o644)
	if r := run(t, "containerd", "--config", cfg, "--uninstall"); r.rc != 1 || !strings.Contains(r.stderr, cfg) || !strings.Contains(r.stderr, backupSuffix) {
		t.Errorf("exit %d: %s", r.rc, r.stderr)
	}
	if read(t, cfg) != text {
		t.Errorf("file changed")
	}
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		rc   int
		want string
	}{
		{nil, 2, "Usage: secrun setup containerd"},
		{[]string{"docker"}, 2, `unknown target "docker"`},
		{[]string{"containerd", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"containerd", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"containerd", "--version", "4"}, 2, "--version must be 2"},
		{[]string{"containerd", "--runtime-name", "runc", "--config", "/nonexistent/x.toml", "--binary", testBinary}, 1, "runtime-name runc"},
		{[]string{"containerd", "--runtime-name", "a b", "--binary", testBinary}, 1, `--runtime-name "a b"`},
		{[]string{"containerd", "--binary", "a\nb", "--config", "/nonexistent/x.toml"}, 1, "newline"},
	} {
		r := run(t, c.args...)
		if r.rc != c.rc || !strings.Contains(r.stdout+r.stderr, c.want) {
			t.Errorf("%v: exit %d\n%s%s", c.args, r.rc, r.stdout, r.stderr)
		}
	}
	if r := run(t, "containerd", "--help"); r.rc != 0 || !strings.Contains(r.stdout, "--uninstall") {
		t.Errorf("--help: %d %s", r.rc, r.stdout)
	}
}

// Without --binary, setup registers the secrun that handed off to
// secrun-tools (SECRUN_WRAPPER), else the secrun next to secrun-tools
// whatever secrun-tools is called; with neither it asks for --binary.
func TestDefaultBinaryIsTheWrapper(t *testing.T) {
	_, cfg := fixture(t, "v2-systemd.toml")
	wrapper := filepath.Join(t.TempDir(), "secrun")
	os.WriteFile(wrapper, []byte("#!/bin/sh\n"), 0o755)
	t.Setenv("SECRUN_WRAPPER", wrapper)
	mustRun(t, "containerd", "--config", cfg)
	if got := get(decodeFile(t, cfg), join(containerdTable(2), "runtimes", "secrun", "options", "BinaryName")...); got != wrapper {
		t.Errorf("BinaryName = %v, want %s", got, wrapper)
	}
	t.Setenv("SECRUN_WRAPPER", "")
	_, cfg = fixture(t, "v2-systemd.toml")
	if r := run(t, "containerd", "--config", cfg); r.rc == 0 || !strings.Contains(r.stderr, "pass --binary") {
		t.Errorf("no secrun to register: exit %d, %s", r.rc, r.stderr)
	}
}

func TestSymlinkedConfig(t *testing.T) {
	dir, real := fixture(t, "v2-systemd.toml")
	orig := read(t, real)
	etc := filepath.Join(dir, "etc")
	os.MkdirAll(etc, 0o755)
	link := filepath.Join(etc, "config.toml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	install(t, link)
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced")
	}
	if !strings.Contains(read(t, real), "runtimes.secrun]") || read(t, link+backupSuffix) != orig {
		t.Errorf("not written through the link")
	}
	mustRun(t, "containerd", "--config", link, "--uninstall")
	if read(t, real) != orig {
		t.Errorf("not restored")
	}
}

func TestFailedWriteRollsBack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for chattr")
	}
	dir, cfg := fixture(t, "v3-comments.toml")
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	os.WriteFile(cfg+backupSuffix, []byte("old backup\n"), 0o644)
	before := snapshot(t, dir)
	// the drop-in can be written, the main file cannot
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s", err, out)
	}
	defer exec.Command("chattr", "-i", dir).Run()
	r := run(t, "containerd", "--config", cfg, "--binary", testBinary)
	exec.Command("chattr", "-i", dir).Run()
	if r.rc != 1 || !strings.Contains(r.stderr, "writing "+cfg) || !strings.Contains(r.stderr, "nothing was changed") {
		t.Errorf("exit %d: %s", r.rc, r.stderr)
	}
	if !reflect.DeepEqual(before, snapshot(t, dir)) {
		t.Errorf("files left changed after a failed write")
	}
}

func TestRelativeBinary(t *testing.T) {
	_, cfg := fixture(t, "v2-systemd.toml")
	wd, _ := os.Getwd()
	mustRun(t, "containerd", "--config", cfg, "--binary", "bin/secrun")
	if got := get(decodeFile(t, cfg), join(containerdTable(2), "runtimes", "secrun", "options", "BinaryName")...); got != filepath.Join(wd, "bin", "secrun") {
		t.Errorf("BinaryName = %v", got)
	}
}
