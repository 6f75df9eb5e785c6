package shim

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// containerdLastError decodes log.json the way containerd's runc shim does:
// a stream of {Level, Msg, Time} objects, keeping the last "error" entry.
func containerdLastError(t *testing.T, data []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	var last string
	for {
		var e struct {
			Level string
			Msg   string
			Time  time.Time
		}
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("containerd could not decode the log: %v\n%s", err, data)
		}
		if e.Level == "error" {
			last = e.Msg
		}
	}
	return last
}

func TestLogJSONDecodesLikeContainerd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.json")
	// runc appends to the same file; secrun must keep the stream decodable.
	os.WriteFile(path, []byte(`{"level":"info","msg":"earlier","time":"2024-01-01T00:00:00Z"}`+"\n"), 0o644)
	l := &logger{path: path, format: "json", debug: true}
	l.Debug("a debug line with \"quotes\"")
	l.Error("create x refused: capability CAP_SYS_ADMIN")
	data, _ := os.ReadFile(path)
	if got := containerdLastError(t, data); got != "secrun: create x refused: capability CAP_SYS_ADMIN" {
		t.Errorf("last error = %q", got)
	}
}

func TestLogTextFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l := &logger{path: path, format: "text"}
	l.Debug("hidden")
	l.Error(`bad "thing"`)
	data, _ := os.ReadFile(path)
	s := string(data)
	if strings.Contains(s, "hidden") || !strings.Contains(s, `level=error msg="secrun: bad \"thing\""`) || !strings.HasPrefix(s, "time=\"") {
		t.Errorf("text log = %q", s)
	}
}
