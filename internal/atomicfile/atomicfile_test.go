package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// entries lists a folder's names, to catch temporary files left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteFileReplacesContentWithPermAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for _, tc := range []struct {
		data string
		perm os.FileMode
	}{{"old", 0o600}, {"new and longer", 0o640}, {"", 0o604}} {
		if err := WriteFile(p, []byte(tc.data), tc.perm); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, p); got != tc.data {
			t.Errorf("content %q, want %q", got, tc.data)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != tc.perm {
			t.Errorf("perm %v, want %v", st.Mode().Perm(), tc.perm)
		}
		if names := entries(t, dir); len(names) != 1 {
			t.Errorf("folder holds %v, want only state.json", names)
		}
	}
}

// A reader racing the writer sees one whole version or another, never an
// empty or half-written file.
func TestReadersSeeOldOrNewContentNeverPart(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	versions := map[string]bool{}
	var contents [][]byte
	for _, c := range "abcd" {
		b := bytes.Repeat([]byte{byte(c)}, 1<<20)
		contents = append(contents, b)
		versions[string(b)] = true
	}
	if err := WriteFile(p, contents[0], 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= 40; i++ {
			if err := WriteFile(p, contents[i%len(contents)], 0o644); err != nil {
				t.Error(err)
				break
			}
		}
		close(done)
	}()
	for reads := 0; ; reads++ {
		select {
		case <-done:
			wg.Wait()
			t.Logf("%d reads", reads)
			return
		default:
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !versions[string(b)] {
			wg.Wait()
			t.Fatalf("read %d bytes that are no whole version", len(b))
		}
	}
}

func TestAbandonedWriteKeepsOldContentAndRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("half of the n")); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, p); got != "old" {
		t.Errorf("before Commit the file holds %q, want the old content", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, p); got != "old" {
		t.Errorf("after an abandoned write the file holds %q, want the old content", got)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("folder holds %v, want only state.json", names)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := f.Commit(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Commit after Close = %v, want ErrClosed", err)
	}
}

func TestFailedRenameLeavesTargetAndNoTemp(t *testing.T) {
	dir := t.TempDir()
	// A non-empty folder cannot be replaced by a file, even by root.
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, []byte("new"), 0o644); err == nil {
		t.Fatal("WriteFile over a non-empty folder succeeded")
	}
	if st, err := os.Stat(target); err != nil || !st.IsDir() {
		t.Errorf("target changed: %v %v", st, err)
	}
	if names := entries(t, dir); len(names) != 1 || names[0] != "target" {
		t.Errorf("folder holds %v, want only target", names)
	}
}

func TestWriteIntoMissingFolderFailsWithoutLeftovers(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "gone", "f"), []byte("x"), 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("folder holds %v, want nothing", names)
	}
}

// The destination folder vanishes between Create and Commit (a concurrent
// Delete removing an emptied day folder): Commit fails and keeps the temp
// file, and once the folder is back (the local store recreates it) the
// same File commits.
func TestCommitRetriesAfterTheFolderIsRecreated(t *testing.T) {
	root := t.TempDir()
	tmpDir := filepath.Join(root, ".tmp")
	dst := filepath.Join(root, "day", "clip.mp4")
	for _, d := range []string{tmpDir, filepath.Dir(dst)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := CreateIn(tmpDir, dst, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if names := entries(t, tmpDir); len(names) != 1 || !strings.HasSuffix(names[0], ".tmp") {
		t.Fatalf("temp folder holds %v, want one .tmp file", names)
	}
	if _, err := f.Write([]byte("clip")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Dir(dst)); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Commit into a removed folder = %v, want ErrNotExist", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, dst); got != "clip" {
		t.Errorf("content %q", got)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close after Commit = %v", err)
	}
	if names := entries(t, tmpDir); len(names) != 0 {
		t.Errorf("temp folder holds %v after Commit", names)
	}
	if got := mustRead(t, dst); got != "clip" {
		t.Errorf("Close after Commit changed the content to %q", got)
	}
}

func TestSyncDirReportsAMissingFolder(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
}
