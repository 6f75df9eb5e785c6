package shim

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/secrun/secrun/spec"
)

// checkUpdate polices `update --resources FILE|-`: crun applies the device
// rules of the resources document to the running container (runc ignores
// them), so an update could open the host's devices to a container created
// confined. Any command line with the word "update" is read for every token
// that could be the resources option in getopt's spellings (-r, clusters
// ending in r, unique prefixes of --resources, attached or separate values):
// reading too much only refuses a strange update, reading too little would
// let one through. A document read from standard input is handed to the
// runtime on a memfd in its place.
func checkUpdate(argv []string) error {
	if !slices.Contains(argv[1:], "update") {
		return nil
	}
	for i := 1; i < len(argv); i++ {
		tok := argv[i]
		if tok == "--" {
			break
		}
		var value string
		var attached bool
		switch {
		case strings.HasPrefix(tok, "--"):
			name, v, eq := strings.Cut(tok[2:], "=")
			if name == "" || !strings.HasPrefix("resources", name) {
				continue
			}
			value, attached = v, eq
		case len(tok) > 1 && tok[0] == '-':
			j := strings.IndexByte(tok, 'r')
			if j < 0 {
				continue
			}
			value, attached = tok[j+1:], j+1 < len(tok)
		default:
			continue
		}
		if !attached {
			if i+1 >= len(argv) {
				return fmt.Errorf("update refused: %s has no value", tok)
			}
			i++
			value = argv[i]
		}
		if err := checkResources(value); err != nil {
			return err
		}
	}
	return nil
}

func checkResources(value string) error {
	if value != "-" {
		data, err := os.ReadFile(filepath.Clean(value))
		if err != nil {
			return fmt.Errorf("update refused: --resources %s: %w", value, err)
		}
		return spec.CheckUpdate(value, data)
	}
	data, err := io.ReadAll(io.LimitReader(os.Stdin, spec.MaxSize+1))
	if err != nil {
		return fmt.Errorf("update refused: reading the resources from standard input: %w", err)
	}
	if len(data) > spec.MaxSize {
		return fmt.Errorf("update refused: the resources on standard input are over %d bytes", spec.MaxSize)
	}
	if err := spec.CheckUpdate("standard input", data); err != nil {
		return err
	}
	return refeedStdin(data)
}

// refeedStdin puts data where the runtime will read its standard input.
func refeedStdin(data []byte) error {
	fd, err := unix.MemfdCreate("secrun-update", 0)
	if err != nil {
		return fmt.Errorf("update: memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "secrun-update")
	defer f.Close()
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := unix.Dup2(fd, 0); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return nil
}
