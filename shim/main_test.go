package shim

import (
	"os"
	"path/filepath"
	"testing"
)

// The shim's tests keep their caches to themselves: the node's
// /run/secrun is not theirs to fill.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "secrun-shim-test")
	if err != nil {
		panic(err)
	}
	featuresCache = filepath.Join(dir, "runtime-features")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
