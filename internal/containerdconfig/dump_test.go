package containerdconfig

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The loader against containerd itself: for configs with imports, the
// runtime entry and default_runtime_name the loader merges are what
// `containerd --config X config dump` reports. containerd 1.6 (Debian's)
// reads the version 2 configs, 2.2 the version 3 ones.

const (
	containerd16 = "/usr/bin/containerd"
	containerd22 = "/opt/secrun-test/bin/containerd"
)

type dumpCase struct {
	name    string
	version int
	files   map[string]string // relative to the temp dir; config.toml is the main file
	want    string            // the BinaryName containerd ends with ("" for no entry)
}

func v3(body string) string {
	return "version = 3\n" + strings.ReplaceAll(body, "CRI", `plugins."io.containerd.cri.v1.runtime".containerd`)
}

func v2(body string) string {
	return "version = 2\n" + strings.ReplaceAll(body, "CRI", `plugins."io.containerd.grpc.v1.cri".containerd`)
}

var dumpCases = []dumpCase{
	{
		// a relative glob, sorted matches, later files win key by key:
		// arrays replaced, empty values too
		name: "v3-glob-last-wins", version: 3, want: "/b",
		files: map[string]string{
			"config.toml": v3("imports = ['conf.d/*.toml']\n[CRI]\n  default_runtime_name = 'runc'\n"),
			"conf.d/10-a.toml": v3("[CRI]\n  default_runtime_name = 'secrun'\n[CRI.runtimes.secrun]\n  runtime_type = 'io.containerd.runc.v2'\n" +
				"  pod_annotations = ['secrun.io/*', 'a']\n[CRI.runtimes.secrun.options]\n  BinaryName = '/a'\n  SystemdCgroup = true\n  Root = '/r'\n"),
			"conf.d/20-b.toml": v3("[CRI.runtimes.secrun]\n  pod_annotations = ['b']\n[CRI.runtimes.secrun.options]\n  BinaryName = '/b'\n  SystemdCgroup = false\n  Root = ''\n"),
			"conf.d/30-c.txt":  "not toml, not matched",
		},
	},
	{
		// nested imports relative to the importing file, breadth first, a
		// file loaded once (at its first place), cycles ignored
		name: "v3-nested", version: 3, want: "/x",
		files: map[string]string{
			"config.toml": v3("imports = ['sub/y.toml', './sub/x.toml']\n"),
			"sub/x.toml":  v3("imports = ['y.toml', '../config.toml']\n[CRI.runtimes.secrun]\n  runtime_type = 'io.containerd.runc.v2'\n[CRI.runtimes.secrun.options]\n  BinaryName = '/x'\n"),
			"sub/y.toml":  v3("[CRI]\n  default_runtime_name = 'secrun'\n[CRI.runtimes.secrun.options]\n  BinaryName = '/y'\n  NoNewKeyring = true\n"),
		},
	},
	{
		// a version 2 drop-in in a version 3 set: containerd 2.2 migrates
		// the merged config, so the drop-in's runtimes count (the main file
		// lists none) and its default_runtime_name does not (main sets one)
		name: "v3-imports-v2", version: 3, want: "/old",
		files: map[string]string{
			"config.toml": v3("imports = ['old.toml']\n[CRI]\n  default_runtime_name = 'runc'\n"),
			"old.toml":    v2("[CRI]\n  default_runtime_name = 'secrun'\n[CRI.runtimes.secrun]\n  runtime_type = 'io.containerd.runc.v2'\n  pod_annotations = ['secrun.io/*']\n[CRI.runtimes.secrun.options]\n  BinaryName = '/old'\n"),
			"unused.toml": v3("[CRI.runtimes.secrun.options]\n  BinaryName = '/unused'\n"),
		},
	},
	{
		// ... and its runtimes do not count when another file lists some
		name: "v3-imports-v2-runtimes-listed", version: 3, want: "/main",
		files: map[string]string{
			"config.toml": v3("imports = ['old.toml']\n[CRI.runtimes.secrun]\n  runtime_type = 'io.containerd.runc.v2'\n[CRI.runtimes.secrun.options]\n  BinaryName = '/main'\n"),
			"old.toml":    v2("[CRI.runtimes.secrun.options]\n  BinaryName = '/old'\n  SystemdCgroup = true\n[CRI.runtimes.other]\n  runtime_type = 'x'\n"),
		},
	},
	{
		// containerd 1.x: an imported file's CRI section replaces the whole
		// section of the files before it
		name: "v2-section-replaced", version: 2, want: "/d",
		files: map[string]string{
			"config.toml": v2("imports = ['ABS/d.toml']\n[CRI]\n  default_runtime_name = 'secrun'\n[CRI.runtimes.secrun]\n  runtime_type = 'io.containerd.runc.v2'\n" +
				"  pod_annotations = ['secrun.io/*']\n[CRI.runtimes.secrun.options]\n  BinaryName = '/main'\n  SystemdCgroup = true\n"),
			"d.toml": v2("[CRI.runtimes.secrun]\n  runtime_type = 'io.containerd.runc.v2'\n[CRI.runtimes.secrun.options]\n  BinaryName = '/d'\n"),
		},
	},
	{
		// containerd 1.x: nested relative imports and an absolute glob,
		// breadth first: sub/y.toml loads after conf.d/a.toml
		name: "v2-nested-glob", version: 2, want: "/y",
		files: map[string]string{
			"config.toml":   v2("imports = ['sub/x.toml', 'ABS/conf.d/*.toml']\n"),
			"sub/x.toml":    v2("imports = ['y.toml']\n[CRI.runtimes.secrun.options]\n  BinaryName = '/x'\n"),
			"sub/y.toml":    v2("[CRI.runtimes.secrun.options]\n  BinaryName = '/y'\n"),
			"conf.d/a.toml": v2("[CRI.runtimes.secrun]\n  runtime_type = 'io.containerd.runc.v2'\n  pod_annotations = ['secrun.io/*']\n[CRI.runtimes.secrun.options]\n  BinaryName = '/z'\n"),
		},
	},
	{
		// the runtime only in a file that a later one replaces: gone
		name: "v2-entry-dropped", version: 2, want: "",
		files: map[string]string{
			"config.toml": v2("imports = ['a.toml', 'b.toml']\n"),
			"a.toml":      v2("[CRI.runtimes.secrun.options]\n  BinaryName = '/a'\n"),
			"b.toml":      v2("[CRI]\n  default_runtime_name = 'runc'\n"),
		},
	},
}

func TestAgainstConfigDump(t *testing.T) {
	for _, c := range dumpCases {
		t.Run(c.name, func(t *testing.T) {
			bin := map[int]string{2: containerd16, 3: containerd22}[c.version]
			if _, err := os.Stat(bin); err != nil {
				if os.Getenv("SECRUN_INTEGRATION") == "1" {
					t.Fatalf("%s missing", bin)
				}
				t.Skipf("%s missing", bin)
			}
			dir := t.TempDir()
			for name, text := range c.files {
				p := filepath.Join(dir, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(strings.ReplaceAll(text, "ABS", dir)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg := filepath.Join(dir, "config.toml")
			text, _ := os.ReadFile(cfg)
			main, err := Parse(cfg, string(text))
			if err != nil {
				t.Fatal(err)
			}
			set, err := Load(main, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(set.Missing) > 0 {
				t.Fatalf("missing: %v", set.Missing)
			}
			merged := set.Merged()

			var stderr bytes.Buffer
			cmd := exec.Command(bin, "--config", cfg, "config", "dump")
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s config dump: %v\n%s", bin, err, stderr.String())
			}
			dump, err := Decode("config dump", string(out))
			if err != nil {
				t.Fatal(err)
			}

			tbl := ContainerdTable(c.version)
			rt := append(tbl, "runtimes", "secrun")
			ours, hasOurs := Lookup(merged, rt...)
			theirs, hasTheirs := Lookup(dump, rt...)
			if hasOurs != hasTheirs {
				t.Fatalf("runtime entry: loader %v, containerd %v (load order %v)", ours, theirs, set.Paths())
			}
			if bn, _ := Lookup(merged, append(rt, "options", "BinaryName")...); c.want != "" && bn != c.want {
				t.Errorf("loader BinaryName = %v, want %s", bn, c.want)
			}
			if hasOurs {
				o, th := ours.(map[string]any), theirs.(map[string]any)
				for k, v := range o {
					if !reflect.DeepEqual(v, th[k]) {
						t.Errorf("%s: loader %#v, containerd %#v", k, v, th[k])
					}
				}
				if _, ok := o["options"]; !ok && th["options"] != nil && len(th["options"].(map[string]any)) > 0 {
					t.Errorf("options: loader none, containerd %v", th["options"])
				}
			}
			d, _ := Lookup(merged, append(tbl, "default_runtime_name")...)
			if d == nil {
				d = "runc" // containerd's default
			}
			if dd, _ := Lookup(dump, append(tbl, "default_runtime_name")...); d != dd {
				t.Errorf("default_runtime_name: loader %v, containerd %v", d, dd)
			}
		})
	}
}
