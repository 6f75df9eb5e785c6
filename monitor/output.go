package monitor

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// RotatingFile appends lines to a file and rotates it by size: when a
// write would take it past MaxSize, FILE becomes FILE.1, FILE.1 becomes
// FILE.2 … up to FILE.Keep, and a new FILE is started. A line is never
// split across files.
type RotatingFile struct {
	Path    string
	MaxSize int64 // 0: never rotate
	Keep    int   // rotated files kept; 0 keeps none

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenRotating opens (creating) path for appending.
func OpenRotating(path string, maxSize int64, keep int) (*RotatingFile, error) {
	w := &RotatingFile{Path: path, MaxSize: maxSize, Keep: keep}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *RotatingFile) open() error {
	f, err := os.OpenFile(w.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// Write writes p (one or more whole lines) to the current file, rotating
// first if p would take the file past MaxSize.
func (w *RotatingFile) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		if err := w.open(); err != nil {
			return 0, err
		}
	}
	if w.MaxSize > 0 && w.size > 0 && w.size+int64(len(p)) > w.MaxSize {
		if err := w.rotateLocked(); err != nil {
			return 0, err
		}
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	return n, err
}

func (w *RotatingFile) rotateLocked() error {
	if err := w.f.Close(); err != nil {
		return err
	}
	w.f = nil
	if w.Keep <= 0 {
		if err := os.Remove(w.Path); err != nil && !os.IsNotExist(err) {
			return err
		}
	} else {
		os.Remove(fmt.Sprintf("%s.%d", w.Path, w.Keep))
		for i := w.Keep - 1; i >= 1; i-- {
			from := fmt.Sprintf("%s.%d", w.Path, i)
			if _, err := os.Lstat(from); err == nil {
				if err := os.Rename(from, fmt.Sprintf("%s.%d", w.Path, i+1)); err != nil {
					return err
				}
			}
		}
		if err := os.Rename(w.Path, w.Path+".1"); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return w.open()
}

// Reopen closes and reopens the file (after an external logrotate).
func (w *RotatingFile) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	return w.open()
}

// Close closes the file.
func (w *RotatingFile) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

var _ io.WriteCloser = (*RotatingFile)(nil)
