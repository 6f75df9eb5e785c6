package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secrun/secrun/profiles"
	"github.com/secrun/secrun/spec"
)

// A young profile file used enforced is visible: a warning in the runtime
// log (a Warning change), not in complain mode, not once it is older than
// burn_in, never with burn_in = "0".
func TestBurnInWarning(t *testing.T) {
	dir := profileDir(t, map[string]string{"rec": looseRecording})
	warned := func(extra string) bool {
		c, err := Load(write(t, "profiles_dir = \""+dir+"\"\n[podsecurity]\nlevel = \"off\"\n[seccomp]\nprofile = \"rec\"\n"+extra, 0o644))
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Policy(nil)
		if err != nil {
			t.Fatal(err)
		}
		changes, err := p.ApplyConfig(&specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: profiles.StockCaps()}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range changes {
			if ch.Kind == spec.Warning && ch.Step == "seccomp" {
				return true
			}
		}
		return false
	}
	if !warned("") {
		t.Error("a profile written just now, enforced: no warning")
	}
	if warned("burn_in = \"0\"\n") {
		t.Error("burn_in = \"0\": warned")
	}
	if warned("mode = \"complain\"\n") {
		t.Error("complain mode: warned")
	}
	old := time.Now().Add(-100 * time.Hour)
	os.Chtimes(filepath.Join(dir, "rec.json"), old, old)
	if warned("") {
		t.Error("a profile older than burn_in: warned")
	}
	if _, err := Load(write(t, "[seccomp]\nburn_in = \"soon\"\n", 0o644)); err == nil {
		t.Error("burn_in = \"soon\" accepted")
	}
}
