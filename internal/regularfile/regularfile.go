// Package regularfile reads the files secrun decides by: a bundle's spec,
// the original it keeps beside it, its caches, the node admin's policy
// files. Each must be checked on the very file read, so that a file
// swapped in after a check by path is never what secrun reads.
package regularfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"syscall"
)

// Errors of Read besides the open's own (ELOOP for a link).
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("over the size limit")
)

// Read reads the regular file at path up to limit bytes. It opens it
// without following a final symbolic link (the open fails with ELOOP) and
// without waiting on a FIFO, runs check (when not nil) on what fstat says
// of the file opened, and reads it in one sized read. The FileInfo is
// returned with ErrTooLarge too, so that callers can say how large.
func Read(path string, limit int64, check func(fs.FileInfo) error) ([]byte, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if check != nil {
		if err := check(fi); err != nil {
			return nil, fi, err
		}
	}
	if !fi.Mode().IsRegular() {
		return nil, fi, ErrNotRegular
	}
	if fi.Size() > limit {
		return nil, fi, ErrTooLarge
	}
	// Sized by the fstat, +1 so that a file that grew is seen: one read
	// where io.ReadAll would start at 512 bytes and double.
	data := make([]byte, 0, fi.Size()+1)
	for int64(len(data)) <= limit {
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, fi, nil
		}
		if err != nil {
			return nil, fi, err
		}
		if len(data) == cap(data) {
			data = slices.Grow(data, 64<<10)
		}
	}
	return nil, fi, ErrTooLarge
}
