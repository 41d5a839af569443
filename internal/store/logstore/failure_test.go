package logstore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/testutil"
)

// setFault makes the log's writes named op fail with err (nil: none fail).
func setFault(s *Store, err error, ops ...string) {
	if err == nil {
		s.fault.Store(nil)
		return
	}
	f := func(op string) error {
		for _, o := range ops {
			if o == op {
				return err
			}
		}
		return nil
	}
	s.fault.Store(&f)
}

// crashCopy opens a copy of s's file as a crash at this point leaves it.
func crashCopy(t *testing.T, s *Store, logged *testutil.SyncBuffer) *Store {
	t.Helper()
	data, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return open(t, dir, WithLogger(slog.New(slog.NewTextHandler(logged, nil))))
}

// TestWriteFailureRecovers: a group commit whose write (a frame half
// written: a full disk) or fdatasync fails fails its writers; memory goes
// back to what the log holds (the failed create is neither shown nor
// counted), writes are refused while the log cannot be written, and
// accepted again, without a restart, once it can; a crash at any point
// recovers every acknowledged write, and what the failed frame left is
// overwritten, not left for recovery to cut.
func TestWriteFailureRecovers(t *testing.T) {
	for _, c := range []struct {
		op  string
		err error
	}{
		{"frame", syscall.ENOSPC},
		{"sync", syscall.EIO},
	} {
		t.Run(c.op, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			defer s.Close()
			a := create(t, s, newInv("E1", "a", "/a"))
			x := create(t, s, newInv("E1", "x", "/x/*"))
			if err := s.Complete(bg, "E1", x.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := s.AppendEvent(bg, "k1", []byte("one")); err != nil {
				t.Fatal(err)
			}
			want := state(t, s)

			// The probe fails too: the disk is still full.
			setFault(s, c.err, c.op, "probe")
			_, created, err := s.Create(bg, newInv("E1", "b", "/b/*"), allowAll)
			if err == nil || created {
				t.Fatalf("Create with a failing %s = %v, %v; want an error", c.op, created, err)
			}
			if !errors.Is(err, invalidation.ErrUnavailable) || !errors.Is(err, c.err) {
				t.Errorf("error %v does not wrap ErrUnavailable and %v", err, c.err)
			}
			if _, _, err := s.Create(bg, newInv("E1", "c", "/c"), allowAll); !errors.Is(err, invalidation.ErrUnavailable) {
				t.Errorf("Create while writes are refused = %v, want ErrUnavailable", err)
			}
			if err := s.Complete(bg, "E1", a.ID, time.Now()); !errors.Is(err, invalidation.ErrUnavailable) {
				t.Errorf("Complete while writes are refused = %v, want ErrUnavailable", err)
			}
			if _, err := s.AppendEvent(bg, "k2", []byte("two")); !errors.Is(err, invalidation.ErrUnavailable) {
				t.Errorf("AppendEvent while writes are refused = %v, want ErrUnavailable", err)
			}
			// Reads, those that wait for earlier writes included, show
			// what the log holds: b neither listed nor counted.
			if got := state(t, s); got != want {
				t.Errorf("state after the failure:\n%s\nwant:\n%s", got, want)
			}
			// A crash now recovers the acknowledged writes (b may be
			// there if its frame reached the disk: its writer was told
			// it failed, not that it did not happen).
			var logged testutil.SyncBuffer
			cc := crashCopy(t, s, &logged)
			for _, id := range []string{a.ID, x.ID} {
				if _, err := cc.Get(bg, "E1", id); err != nil {
					t.Errorf("crash copy while failed: Get %s: %v", id, err)
				}
			}
			cc.Close()

			setFault(s, nil)
			var c2 invalidation.Invalidation
			testutil.Eventually(t, 10*time.Second, func() bool {
				got, created, err := s.Create(bg, newInv("E1", "c", "/c"), allowAll)
				if err == nil && created {
					c2 = got
					return true
				}
				if !errors.Is(err, invalidation.ErrUnavailable) {
					t.Fatalf("Create after the disk has room again = %v, %v", created, err)
				}
				return false
			}, "Create to succeed after the disk has room again")
			b := create(t, s, newInv("E1", "b", "/b/*")) // not kept from the failed write: new
			if err := s.Complete(bg, "E1", a.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			want = state(t, s)
			for _, id := range []string{a.ID, x.ID, b.ID, c2.ID} {
				if !strings.Contains(want, id) {
					t.Errorf("%s missing from the state after recovery:\n%s", id, want)
				}
			}
			var logged2 testutil.SyncBuffer
			cc = crashCopy(t, s, &logged2)
			if got := state(t, cc); got != want {
				t.Errorf("crash copy after recovery:\n%s\nwant:\n%s", got, want)
			}
			cc.Close()
			if strings.Contains(logged2.String(), "cut off") {
				t.Errorf("recovery cut a tail the failed write left:\n%s", logged2.String())
			}
			s.Close()
			s = open(t, dir)
			if got := state(t, s); got != want {
				t.Errorf("after restart:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestOpenWriteFailure: a store whose first write fails (nothing written
// yet but the header) recovers the same way.
func TestOpenWriteFailure(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	setFault(s, syscall.ENOSPC, "extend", "frame")
	if _, _, err := s.Create(bg, newInv("E1", "a", "/a"), allowAll); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Create = %v, want ENOSPC", err)
	}
	setFault(s, nil)
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, _, err := s.Create(bg, newInv("E1", "a", "/a"), allowAll)
		return err == nil
	}, "Create to succeed after the fault is gone")
}

// TestSmallDisk, on a real full filesystem (a 1 MiB tmpfs): the store
// starts (the 4 MiB written ahead shrinks to fit), writes fail with
// ErrUnavailable and a message saying the disk is full once it is, and
// succeed again once space is freed; every acknowledged write is there
// after a restart.
func TestSmallDisk(t *testing.T) {
	mnt := testutil.MountTmpfs(t, 1<<20)
	dir := filepath.Join(mnt, "data")
	s := open(t, dir)
	defer func() { s.Close() }()
	var acked []string
	n := 0
	createOne := func() error {
		n++
		got, _, err := s.Create(bg, newInv("E1", fmt.Sprint("r", n), fmt.Sprint("/p/", n)), allowAll)
		if err == nil {
			acked = append(acked, got.ID)
		}
		return err
	}
	if err := createOne(); err != nil {
		t.Fatalf("first write on a 1 MiB disk: %v", err)
	}
	if fi, err := os.Stat(s.path); err != nil || fi.Size() > 1<<20 {
		t.Fatalf("log file: %v, %v", fi.Size(), err)
	}
	filler := testutil.FillDisk(t, mnt)
	var err error
	for range 100000 {
		if err = createOne(); err != nil {
			break
		}
	}
	if !errors.Is(err, invalidation.ErrUnavailable) || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "bytes free") {
		t.Fatalf("Create on a full disk = %v; want ErrUnavailable, ENOSPC and the space free", err)
	}
	t.Logf("%d creates acknowledged before the disk was full: %v", len(acked), err)
	if err := createOne(); !errors.Is(err, invalidation.ErrUnavailable) {
		t.Fatalf("Create while full = %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return createOne() == nil }, "writes to be accepted after space was freed")
	for range 10 {
		if err := createOne(); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open(t, dir)
	page, _, err := s.List(bg, "E1", "", 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != len(acked) {
		t.Fatalf("after restart: %d invalidations, %d acknowledged", len(page), len(acked))
	}
	var missing atomic.Int32
	for _, id := range acked {
		if _, err := s.Get(bg, "E1", id); err != nil {
			missing.Add(1)
		}
	}
	if missing.Load() > 0 {
		t.Fatalf("%d acknowledged invalidations missing after restart", missing.Load())
	}
}

// TestOpenFullDisk: a new log on a full disk is refused with the reason.
func TestOpenFullDisk(t *testing.T) {
	mnt := testutil.MountTmpfs(t, 64<<10)
	dir := filepath.Join(mnt, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.FillDisk(t, mnt)
	s, err := Open(dir, quiet)
	if err == nil {
		s.Close()
		t.Fatal("Open on a full disk succeeded")
	}
	if !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "bytes free") {
		t.Errorf("error %q does not say the disk is full", err)
	}
}

// TestCompactionDirSyncFailure: a compaction whose directory fsync fails
// after its rename refuses writes (a crash could bring back the old file
// without what is written after), the writes made meanwhile fail and are
// undone, and writes resume once the fsync succeeds; nothing
// acknowledged is lost.
func TestCompactionDirSyncFailure(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, func(s *Store) { s.compactMin = 1 })
	defer func() { s.Close() }()
	setFault(s, syscall.EIO, "dirsync")
	var acked []string
	var err error
	for i := range 20000 {
		var got invalidation.Invalidation
		if got, _, err = s.Create(bg, newInv("E1", fmt.Sprint("r", i), fmt.Sprint("/", i)), allowAll); err != nil {
			break
		}
		acked = append(acked, got.ID)
	}
	if !errors.Is(err, invalidation.ErrUnavailable) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("after %d creates: %v; want a refusal after the compaction's failed directory fsync", len(acked), err)
	}
	want := state(t, s)
	if n := strings.Count(want, "inv E1 "); n != len(acked) || !strings.Contains(want, fmt.Sprintf("count E1 %d\n", len(acked))) {
		t.Fatalf("%d invalidations shown, %d acknowledged:\n%s", n, len(acked), want[max(0, len(want)-300):])
	}
	setFault(s, nil)
	testutil.Eventually(t, 10*time.Second, func() bool {
		got, _, err := s.Create(bg, newInv("E1", "after", "/after"), allowAll)
		if err == nil {
			acked = append(acked, got.ID)
		}
		return err == nil
	}, "Create to succeed after the fault is gone")
	s.Close()
	s = open(t, dir)
	for _, id := range acked {
		if _, err := s.Get(bg, "E1", id); err != nil {
			t.Fatalf("acknowledged %s after reopen: %v", id, err)
		}
	}
}
