package spec

import (
	"strings"
	"testing"
)

// With seccomp off the spec's profile is written back as it was read: a
// zero valueTwo stays omitted (the runtime-spec types' omitempty means
// encoding/json's), as the OCI runtime-tools suite's specs have it.
func TestEncodeKeepsZeroValueTwoOmitted(t *testing.T) {
	doc := `{"ociVersion":"1.3.0","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"},` +
		`"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["personality"],"action":"SCMP_ACT_ALLOW",` +
		`"args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":1,"value":8,"valueTwo":9,"op":"SCMP_CMP_MASKED_EQ"}]}]}}}`
	c, err := ParseConfig("config.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(out), `"valueTwo"`) != 1 || !strings.Contains(string(out), `"valueTwo":9`) {
		t.Fatalf("valueTwo changed in the re-encoded spec:\n%s", out)
	}
}
