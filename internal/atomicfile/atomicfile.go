// Package atomicfile writes files whole or not at all: every file the
// project writes (the command line's outputs, npy, safetensors and
// torchpt files, plots) goes through Write, so that an existing file is
// never truncated or left half-written when a run fails or is
// interrupted.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// ErrAborted is the error of a Write after Abort.
var ErrAborted = errors.New("the process is stopping: file not written")

var (
	mu      sync.Mutex
	temps   = map[string]bool{} // temporary files of writes in progress
	aborted bool
)

// Write creates or replaces the file at path with what write writes to it.
// It writes to a new temporary file in path's directory (".NAME.*.tmp",
// buffered), syncs and closes it and renames it over path only when write
// returned nil; otherwise, or if write panics, it removes the temporary
// file and leaves path as it was. A replaced file keeps its permissions; a
// new one gets 0644.
func Write(path string, write func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", path)
		}
		mode = fi.Mode().Perm()
	}
	mu.Lock()
	if aborted {
		mu.Unlock()
		return fmt.Errorf("%s: %w", path, ErrAborted)
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		mu.Unlock()
		return err
	}
	tmp := f.Name()
	temps[tmp] = true
	mu.Unlock()

	done := false
	defer func() {
		if done {
			return
		}
		f.Close()
		mu.Lock()
		os.Remove(tmp)
		delete(temps, tmp)
		mu.Unlock()
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if aborted {
		return fmt.Errorf("%s: %w", path, ErrAborted) // Abort removed tmp
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	delete(temps, tmp)
	done = true
	return nil
}

// Abort removes the temporary files of the writes in progress and makes
// every later Write fail with ErrAborted, leaving the files they were to
// replace as they were: for a process about to exit on a signal without
// waiting for its writes.
func Abort() {
	mu.Lock()
	defer mu.Unlock()
	aborted = true
	for tmp := range temps {
		os.Remove(tmp)
		delete(temps, tmp)
	}
}
