package shim

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/secrun/secrun/spec"
)

const origDoc = `{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","noNewPrivileges":false},"root":{"path":"rootfs"}}`

// confineOnce does what createPolicy does with the files: load, pick the
// original, mark, save.
func confineOnce(t *testing.T, dir, mark string) (*spec.Config, error) {
	t.Helper()
	cfg, err := spec.LoadConfig(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, kept, err := keepOriginal(cfg)
	if err != nil {
		return nil, err
	}
	cfg.Spec.Process.NoNewPrivileges = true
	if cfg.Spec.Annotations == nil {
		cfg.Spec.Annotations = map[string]string{}
	}
	cfg.Spec.Annotations[spec.AnnPolicy] = mark
	data, err := cfg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return cfg, kept.save(cfg, data)
}

func TestRunAgainStartsFromOriginal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	os.WriteFile(path, []byte(origDoc), 0o640)
	if _, err := confineOnce(t, dir, "a/enforce"); err != nil {
		t.Fatal(err)
	}
	if kept := keptOriginal(t, path); kept != origDoc {
		t.Fatalf("original not kept: %s", kept)
	}
	// Again: starts from the original, not from the rewrite.
	cfg, err := confineOnce(t, dir, "b/enforce")
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.Orig) != origDoc {
		t.Errorf("second run started from %s", cfg.Orig)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("config.json mode %v, want the original's 0640", fi.Mode().Perm())
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), `"b/enforce"`) || strings.Contains(string(data), `"a/enforce"`) {
		t.Errorf("config.json after the second run: %s", data)
	}

	// A new original (no marker) replaces the kept one.
	newDoc := strings.Replace(origDoc, `"sh"`, `"true"`, 1)
	os.WriteFile(path, []byte(newDoc), 0o640)
	if _, err := confineOnce(t, dir, "c/enforce"); err != nil {
		t.Fatal(err)
	}
	if kept := keptOriginal(t, path); kept != newDoc {
		t.Errorf("new original not kept: %s", kept)
	}
}

// keptOriginal returns the original kept beside path, checking the line
// before it.
func keptOriginal(t *testing.T, path string) string {
	t.Helper()
	kept, err := os.ReadFile(path + origSuffix)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum, orig, ok := splitKept(kept)
	if !ok || sum != digest(out) {
		t.Fatalf("%s: first line %q, want %q and the digest of config.json (%s)", path+origSuffix, strings.SplitN(string(kept), "\n", 2)[0], keptHeader, digest(out))
	}
	return string(orig)
}

// Hostile inputs: a rewrite edited afterwards, a marked config.json with
// nothing kept, and kept files secrun cannot have written.
func TestRunAgainRefusals(t *testing.T) {
	setup := func(t *testing.T) (string, string) {
		dir := t.TempDir()
		path := filepath.Join(dir, "config.json")
		os.WriteFile(path, []byte(origDoc), 0o644)
		if _, err := confineOnce(t, dir, "a/enforce"); err != nil {
			t.Fatal(err)
		}
		return dir, path
	}
	for name, c := range map[string]struct {
		spoil func(t *testing.T, path string)
		want  string
	}{
		"edited": {func(t *testing.T, path string) {
			data, _ := os.ReadFile(path)
			os.WriteFile(path, []byte(strings.Replace(string(data), `"sh"`, `"bash"`, 1)), 0o644)
		}, "edited since"},
		"nothing kept": {func(t *testing.T, path string) {
			os.Remove(path + origSuffix)
		}, "does not exist"},
		"kept by an older secrun": {func(t *testing.T, path string) {
			// Without the digest line: the original alone, and the fix
			// is to copy it whole.
			os.WriteFile(path+origSuffix, []byte(origDoc), 0o600)
		}, "is the original as an older secrun kept it: `cp " + ".secrun-orig"},
		"planted fifo": {func(t *testing.T, path string) {
			// Opening a FIFO for reading would wait for a writer.
			os.Remove(path + origSuffix)
			if err := syscall.Mkfifo(path+origSuffix, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		"kept file edited": {func(t *testing.T, path string) {
			kept, _ := os.ReadFile(path + origSuffix)
			os.WriteFile(path+origSuffix, []byte(strings.Replace(string(kept), "fnv64a:", "fnv64a:0", 1)), 0o600)
		}, "does not start with the line secrun writes"},
		"planted world-readable": {func(t *testing.T, path string) {
			os.Chmod(path+origSuffix, 0o644)
		}, "group or other access"},
		"planted symlink": {func(t *testing.T, path string) {
			other := filepath.Join(t.TempDir(), "loose.json")
			os.WriteFile(other, []byte(origDoc), 0o600)
			os.Remove(path + origSuffix)
			os.Symlink(other, path+origSuffix)
		}, "not a regular file"},
		"planted by another user": {func(t *testing.T, path string) {
			if os.Geteuid() != 0 {
				t.Skip("chown needs root")
			}
			os.Chown(path+origSuffix, 65534, 65534)
		}, "not owned by secrun's user"},
	} {
		t.Run(name, func(t *testing.T) {
			dir, path := setup(t)
			c.spoil(t, path)
			_, err := confineOnce(t, dir, "b/enforce")
			if err == nil || !strings.Contains(err.Error(), strings.ReplaceAll(c.want, "`cp .secrun-orig", "`cp "+path+origSuffix)) || !strings.Contains(err.Error(), spec.AnnPolicy) {
				t.Errorf("err = %v, want a refusal saying %q", err, c.want)
			}
		})
	}
}

// The kept file holds a spec of up to spec.MaxSize bytes after its line:
// one that size is read, one byte more is refused, and a link is not
// followed (to /dev/zero, it would be read without end).
func TestReadKeptBounds(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json"+origSuffix)
	line := keptHeader + strings.Repeat("0", 16) + "\n"
	for _, c := range []struct {
		size int
		ok   bool
	}{{spec.MaxSize, true}, {spec.MaxSize + 1, false}} {
		data := append([]byte(line), make([]byte, c.size)...)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readKept(path)
		if c.ok && (err != nil || len(got) != len(data)) {
			t.Errorf("a spec of %d bytes: %v (read %d of %d bytes)", c.size, err, len(got), len(data))
		}
		if !c.ok && (err == nil || !strings.Contains(err.Error(), "larger than")) {
			t.Errorf("a spec of %d bytes: err = %v, want a refusal", c.size, err)
		}
	}
	os.Remove(path)
	if err := os.Symlink("/dev/zero", path); err != nil {
		t.Fatal(err)
	}
	if _, err := readKept(path); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a link to /dev/zero: err = %v", err)
	}
}
