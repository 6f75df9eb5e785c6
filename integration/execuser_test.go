package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Under restricted Pod Security nothing runs as root in the container: not
// the container's process (checked at create) and not a process exec'd into
// it, whether by --user or by a process file.
func TestExecAsRootRestricted(t *testing.T) {
	for _, rt := range runtimes() {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			e.WriteConfig(t, "level = \"restricted\"\n[podsecurity]\nlevel = \"restricted\"\n")
			b := newBundle(t, "probe", "sleep", "60")
			proc := b.Spec["process"].(map[string]any)
			proc["user"] = map[string]any{"uid": 1000, "gid": 1000}
			proc["capabilities"] = map[string]any{"bounding": []string{"CAP_NET_BIND_SERVICE"}, "effective": []string{}, "permitted": []string{}}
			b.Save(t)
			id := "execroot-" + rt.Name
			e.Started(t, b, id)
			// The contrast: as the container's user, exec works.
			if out, err := e.Cmd(b.Dir, "exec", "--user", "1000:1000", id, "probe", "status").CombinedOutput(); err != nil {
				t.Fatalf("exec as 1000: %v %s", err, out)
			}
			for _, user := range []string{"0", "0:0", "00:1000"} {
				if out, err := e.Cmd(b.Dir, "exec", "--user", user, id, "probe", "status").CombinedOutput(); err == nil {
					t.Errorf("exec --user %s ran:\n%s", user, out)
				} else if msg := lastError(t, filepath.Join(b.Dir, "log.json")); !strings.Contains(msg, "run-as-root") {
					t.Errorf("exec --user %s: log.json error %q", user, msg)
				}
			}
			p := map[string]any{"args": []string{"probe", "status"}, "cwd": "/", "env": []string{"PATH=/bin"},
				"user": map[string]int{"uid": 0, "gid": 0}}
			data, _ := json.Marshal(p)
			procFile := filepath.Join(t.TempDir(), "process.json")
			os.WriteFile(procFile, data, 0o600)
			if out, err := e.Cmd(b.Dir, "exec", "--process", procFile, id).CombinedOutput(); err == nil {
				t.Errorf("exec of a uid-0 process file ran:\n%s", out)
			} else if msg := lastError(t, filepath.Join(b.Dir, "log.json")); !strings.Contains(msg, "run-as-root") {
				t.Errorf("uid-0 process file: log.json error %q", msg)
			}
		})
	}
}
