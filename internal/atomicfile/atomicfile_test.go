package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// leftovers returns the names in dir other than want.
func leftovers(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{}
	for _, w := range want {
		keep[w] = true
	}
	var extra []string
	for _, e := range es {
		if !keep[e.Name()] {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	old := []byte("the previous results\n")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	// A failing write, after writing part of its output, leaves the file
	// byte for byte.
	err := Write(path, func(w io.Writer) error {
		w.Write([]byte("half of the new res"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	// So does a panicking one.
	func() {
		defer func() { recover() }()
		Write(path, func(w io.Writer) error { w.Write(make([]byte, 1<<17)); panic("boom") })
	}()
	if got, _ := os.ReadFile(path); string(got) != string(old) {
		t.Fatalf("the file holds %q after failed writes", got)
	}
	if extra := leftovers(t, dir, "out.txt"); len(extra) > 0 {
		t.Fatalf("left behind: %v", extra)
	}
	// A successful write replaces it whole and keeps its permissions.
	if err := Write(path, func(w io.Writer) error { _, err := w.Write([]byte("new\n")); return err }); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(got) != "new\n" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("after the write: %q, mode %v", got, fi.Mode())
	}
	// A new file in the current directory.
	t.Chdir(dir)
	if err := Write("fresh", func(w io.Writer) error { _, err := w.Write([]byte("x")); return err }); err != nil {
		t.Fatal(err)
	}
	if extra := leftovers(t, dir, "out.txt", "fresh"); len(extra) > 0 {
		t.Fatalf("left behind: %v", extra)
	}
}

// TestAbort: Abort removes the temporary file of a write in progress; that
// write and later ones fail and leave their files as they were.
func TestAbort(t *testing.T) {
	defer func() { mu.Lock(); aborted = false; mu.Unlock() }()
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Write(path, func(w io.Writer) error {
		w.Write([]byte("partial"))
		if len(leftovers(t, dir, "out.txt")) != 1 {
			t.Error("no temporary file while writing")
		}
		Abort()
		if extra := leftovers(t, dir, "out.txt"); len(extra) > 0 {
			t.Errorf("Abort left %v", extra)
		}
		return nil
	})
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("error %v", err)
	}
	if err := Write(path, func(io.Writer) error { return nil }); !errors.Is(err, ErrAborted) {
		t.Fatalf("a write after Abort: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Fatalf("the file holds %q", got)
	}
	if extra := leftovers(t, dir, "out.txt"); len(extra) > 0 {
		t.Fatalf("left behind: %v", extra)
	}
}
