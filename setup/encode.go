package setup

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// The few TOML snippets setup writes (keys, header paths, copied option
// values) come from go-toml's encoder, one `k = v` line at a time.

// encodeLine encodes {key: v} as one line, tables inline.
func encodeLine(key string, v any) (string, error) {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).SetTablesInline(true).Encode(map[string]any{key: v}); err != nil {
		return "", err
	}
	s := strings.TrimSuffix(b.String(), "\n")
	if strings.Contains(s, "\n") {
		return "", fmt.Errorf("cannot write %v on one line", v)
	}
	return s, nil
}

// tomlValue writes a decoded value back as TOML.
func tomlValue(v any) (string, error) {
	s, err := encodeLine("k", v)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(s, "k = "), nil
}

// tomlKey writes one key part, quoted when it is not a bare key.
func tomlKey(k string) string {
	s, _ := encodeLine(k, true)
	return strings.TrimSuffix(s, " = true")
}

// tomlPath writes a dotted key path, quoting the parts that need it.
func tomlPath(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = tomlKey(p)
	}
	return strings.Join(parts, ".")
}

// tomlString writes a TOML string.
func tomlString(s string) string {
	v, _ := tomlValue(s)
	return v
}
