package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// MaxSize bounds what is read: real configs are tens of KB, and a runaway
// file must not make every container start on the node slow or OOM.
const MaxSize = 16 << 20

// readFile reads a regular file that is not a symbolic link, up to MaxSize.
func readFile(path string) ([]byte, fs.FileMode, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("%s: does not exist", path)
		}
		return nil, 0, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, 0, fmt.Errorf("%s: is a symbolic link; secrun rewrites only regular files so it cannot be steered to write elsewhere (replace the link with the file it points to)", path)
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: is not a regular file", path)
	}
	if fi.Size() > MaxSize {
		return nil, 0, fmt.Errorf("%s: is %d bytes, over secrun's limit of %d bytes for a spec file", path, fi.Size(), MaxSize)
	}
	// O_NOFOLLOW: a link swapped in since the Lstat is not followed.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxSize+1)); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if buf.Len() > MaxSize {
		return nil, 0, fmt.Errorf("%s: grew over secrun's limit of %d bytes while being read", path, MaxSize)
	}
	return buf.Bytes(), fi.Mode().Perm(), nil
}
