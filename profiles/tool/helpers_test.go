package tool

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// run calls Main as `secrun profile args...`.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// writeFile writes data to name in a fresh temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeProfile writes p as JSON and returns the path.
func writeProfile(t *testing.T, name string, p any) string {
	t.Helper()
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, name, data)
}

// allowlist is a small OCI profile.
func allowlist(names ...string) *specs.LinuxSeccomp {
	one := uint(1)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno, DefaultErrnoRet: &one,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:      []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}},
	}
}

func decodeProfile(t *testing.T, data string) *specs.LinuxSeccomp {
	t.Helper()
	var p specs.LinuxSeccomp
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		t.Fatalf("output is not LinuxSeccomp JSON: %v\n%s", err, data)
	}
	return &p
}

func required() bool { return os.Getenv("SECRUN_INTEGRATION") == "1" }
