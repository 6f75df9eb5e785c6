package record

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// writeRecordingBundle writes dir/config.json: the bundle's spec (orig)
// with linux.seccomp replaced by rec, and the paths runtimes resolve
// against the bundle directory (root.path, the source of a bind mount) made
// absolute, since the copy lives elsewhere. The user's bundle is not
// touched, so nothing needs restoring if the recorder dies. Every other
// value is kept as the raw JSON it was.
func writeRecordingBundle(bundle string, orig []byte, rec *specs.LinuxSeccomp, dir string) error {
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(orig, &top); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(bundle, "config.json"), err)
	}
	if raw, ok := top["root"]; ok {
		var root map[string]json.RawMessage
		if err := json.Unmarshal(raw, &root); err != nil {
			return fmt.Errorf("root: %w", err)
		}
		var p string
		if err := json.Unmarshal(root["path"], &p); err == nil && p != "" && !filepath.IsAbs(p) {
			root["path"], _ = json.Marshal(filepath.Join(abs, p))
			top["root"], _ = json.Marshal(root)
		}
	}
	if raw, ok := top["mounts"]; ok {
		var mounts []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &mounts); err != nil {
			return fmt.Errorf("mounts: %w", err)
		}
		for _, m := range mounts {
			var src, typ string
			var opts []string
			json.Unmarshal(m["source"], &src)
			json.Unmarshal(m["type"], &typ)
			json.Unmarshal(m["options"], &opts)
			bind := typ == "bind" || slices.Contains(opts, "bind") || slices.Contains(opts, "rbind")
			if bind && src != "" && !filepath.IsAbs(src) {
				m["source"], _ = json.Marshal(filepath.Join(abs, src))
			}
		}
		top["mounts"], _ = json.Marshal(mounts)
	}
	linux := map[string]json.RawMessage{}
	if raw, ok := top["linux"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &linux); err != nil {
			return fmt.Errorf("linux: %w", err)
		}
	}
	if linux["seccomp"], err = json.Marshal(rec); err != nil {
		return err
	}
	if top["linux"], err = json.Marshal(linux); err != nil {
		return err
	}
	data, err := json.MarshalIndent(top, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600)
}
