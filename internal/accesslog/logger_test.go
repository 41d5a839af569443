package accesslog

import (
	"compress/gzip"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// readLog returns the lines of a gzip log file, failing the test if it is
// not a whole gzip stream with the two header lines.
func readLog(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: not a whole gzip stream: %v", path, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < 2 || lines[0] != Version || lines[1] != Fields {
		t.Fatalf("%s: header lines %q", path, lines[:min(2, len(lines))])
	}
	return lines[2:]
}

// logFiles returns the .gz files under dir, relative to it.
func logFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

func entry(at time.Time, stem string) *Entry {
	return &Entry{Time: at, Method: []byte("GET"), URIStem: []byte(stem), Status: 200, Result: "Hit", ContentLength: -1, RangeStart: -1, RangeEnd: -1}
}

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }

var nameRE = regexp.MustCompile(`^(?:(.*)/)?([A-Z0-9]+)\.(\d{4}-\d{2}-\d{2}-\d{2})\.([A-Z0-9]{11})\.gz$`)

func TestFilesNamesPrefixesAndRotation(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 7, 22, 59, 58, 0, time.UTC)
	c := newClock(t0)
	l, err := New(Config{Dir: dir, Now: c.now, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(1, "E1", "", false, entry(t0, "/a"))
	l.Log(2, "E1", "", false, entry(t0, "/b"))
	l.Log(3, "E2", "logs/x", false, entry(t0, "/c"))
	l.Log(4, "E3", "../../escape/", false, entry(t0, "/d"))
	// Flushed while open: readable whole.
	l.Flush()
	files := logFiles(t, dir)
	if len(files) != 3 {
		t.Fatalf("files %q", files)
	}
	for _, f := range files {
		m := nameRE.FindStringSubmatch(filepath.ToSlash(f))
		if m == nil || m[3] != "2026-12-07-22" {
			t.Fatalf("file name %q", f)
		}
	}
	if !strings.HasPrefix(files[0], "%2E%2E/%2E%2E/escape/E3.") || !strings.HasPrefix(files[1], "E1.") || !strings.HasPrefix(files[2], "logs/x/E2.") {
		t.Fatalf("files %q", files)
	}
	if got := readLog(t, filepath.Join(dir, files[1])); len(got) != 2 {
		t.Fatalf("E1 lines %q", got)
	}
	// More lines after a flush go into a second gzip member of the same
	// file; a new hour goes into a new file, and the past hour's file is
	// closed at the next flush.
	l.Log(1, "E1", "", false, entry(t0, "/e"))
	t1 := t0.Add(3 * time.Second)
	c.set(t1)
	l.Log(1, "E1", "", false, entry(t1, "/f"))
	l.Flush()
	files = logFiles(t, dir)
	if len(files) != 4 {
		t.Fatalf("files %q", files)
	}
	var stems []string
	for _, f := range files {
		if strings.HasPrefix(f, "E1.") {
			for _, line := range readLog(t, filepath.Join(dir, f)) {
				stems = append(stems, strings.Split(line, "\t")[7])
			}
		}
	}
	if strings.Join(stems, " ") != "/a /b /e /f" {
		t.Fatalf("E1 stems %q", stems)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Written() != 6 || l.Dropped() != 0 {
		t.Fatalf("written %d dropped %d", l.Written(), l.Dropped())
	}
}

// Close writes out what is buffered; lines logged after are dropped.
func TestCloseFlushes(t *testing.T) {
	dir := t.TempDir()
	l, err := New(Config{Dir: dir, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				l.Log(uint64(g), "E1", "", false, entry(now, "/"+strings.Repeat("x", i%50)))
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Log(0, "E1", "", false, entry(now, "/late"))
	n := 0
	for _, f := range logFiles(t, dir) {
		n += len(readLog(t, filepath.Join(dir, f)))
	}
	if n != 16000 || l.Written() != 16000 || l.Dropped() != 1 {
		t.Fatalf("lines %d written %d dropped %d", n, l.Written(), l.Dropped())
	}
}

// A directory that cannot be written (here: removed under the logger)
// drops lines, counts them and warns; Log never blocks.
func TestUnwritableDirDrops(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	var warned strings.Builder
	var mu sync.Mutex
	l, err := New(Config{Dir: dir, FlushInterval: time.Hour, Logger: newTextLogger(&warned, &mu)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for range 1000 {
		l.Log(0, "E1", "", false, entry(now, "/a"))
	}
	l.Flush()
	if l.Dropped() != 1000 || l.Written() != 0 {
		t.Fatalf("dropped %d written %d", l.Dropped(), l.Written())
	}
	mu.Lock()
	if !strings.Contains(warned.String(), "dropped=1000") {
		t.Errorf("warning: %q", warned.String())
	}
	mu.Unlock()
	// The next flush tries again (and fails again).
	l.Log(0, "E1", "", false, entry(now, "/b"))
	l.Close()
	if l.Dropped() != 1001 {
		t.Fatalf("dropped %d", l.Dropped())
	}
}

// A writer stuck on the disk: Log goes on without blocking, dropping
// past the backlog's bound; what was accepted is written once the disk
// answers again.
func TestBacklogBounded(t *testing.T) {
	dir := t.TempDir()
	stall := make(chan struct{})
	l, err := New(Config{Dir: dir, FlushInterval: time.Hour, stall: stall})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	const total = 200000
	e := entry(now, "/"+strings.Repeat("x", 100))
	lineLen := len(AppendLine(nil, e, false)) + 8
	for i := range total {
		l.Log(uint64(i), "E1", "", false, e)
	}
	dropped := l.Dropped()
	accepted := total - dropped
	bound := uint64((queueBuffers + len(l.shards)) * (shardMaxBytes + 4<<10) / lineLen)
	if dropped == 0 || accepted > bound {
		t.Fatalf("dropped %d, accepted %d (bound %d)", dropped, accepted, bound)
	}
	close(stall)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range logFiles(t, dir) {
		n += len(readLog(t, filepath.Join(dir, f)))
	}
	if uint64(n) != accepted || l.Written() != accepted {
		t.Fatalf("lines %d written %d, accepted %d", n, l.Written(), accepted)
	}
	t.Logf("writer stalled: %d of %d lines accepted (%d dropped)", accepted, total, dropped)
}

func newTextLogger(w io.Writer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{w, mu}, nil))
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
