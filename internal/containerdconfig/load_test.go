package containerdconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func load(t *testing.T, path string, opt Options) *Set {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(path, string(b))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(f, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadOrderAndNotes(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"config.toml":   "version = 2\nimports = ['gone.toml', 'conf.d/*.toml', 'a.toml']\n",
		"a.toml":        "version = 2\nimports = ['config.toml', 'conf.d/b.toml']\n",
		"conf.d/b.toml": "version = 2\n",
		"conf.d/c.toml": "version = 2\n",
	})
	s := load(t, filepath.Join(dir, "config.toml"), Options{Overrides: map[string]*string{filepath.Join(dir, "conf.d/secrun.toml"): new("version = 2\n")}})
	var got []string
	for _, p := range s.Paths() {
		got = append(got, strings.TrimPrefix(p, dir+"/"))
	}
	// breadth first, sorted glob matches (a pending file included), each
	// file once, the cycle back to config.toml ignored
	want := []string{"config.toml", "conf.d/b.toml", "conf.d/c.toml", "conf.d/secrun.toml", "a.toml"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("load order %v, want %v", got, want)
	}
	if len(s.Missing) != 1 || !strings.Contains(s.Missing[0], "gone.toml") || !strings.Contains(s.Missing[0], "will not start") {
		t.Errorf("missing: %v", s.Missing)
	}
	if len(s.Notes) != 1 || !strings.Contains(s.Notes[0], `"conf.d/*.toml"`) || !strings.Contains(s.Notes[0], "1.6.29") {
		t.Errorf("notes: %v", s.Notes)
	}
}

func TestBadImport(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"config.toml": "version = 3\nimports = ['bad.toml']\n",
		"bad.toml":    "version = 3\n[plugins\n",
	})
	b, _ := os.ReadFile(filepath.Join(dir, "config.toml"))
	f, _ := Parse(filepath.Join(dir, "config.toml"), string(b))
	_, err := Load(f, Options{})
	if err == nil || !strings.Contains(err.Error(), "bad.toml is not valid TOML: line 2") || !strings.Contains(err.Error(), "imported by") {
		t.Errorf("err = %v", err)
	}
}

func TestKeyPaths(t *testing.T) {
	got := KeyPaths("a = 1\n[t.'u.v']\nb.c = { d = 1, e = { f = 2 } }\n[[arr]]\ng = 3\n")
	want := [][]string{{"a"}, {"t", "u.v"}, {"t", "u.v", "b", "c"}, {"t", "u.v", "b", "c", "d"}, {"t", "u.v", "b", "c", "e"}, {"t", "u.v", "b", "c", "e", "f"},
		{"arr", "[]"}, {"arr", "[]", "g"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("KeyPaths = %v\nwant %v", got, want)
	}
}
