package logstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/storetest"
	"github.com/openfront/openfront/internal/testutil"
)

var (
	_ invalidation.Store = (*Store)(nil)
	_ distribution.Store = (*Store)(nil)
	_ resource.Store     = (*Store)(nil)
	_ eventlog.Store     = (*Store)(nil)
)

var bg = context.Background()

func allowAll(invalidation.Usage) error { return nil }

// quiet discards what the store logs, unless the test wants to read it.
var quiet = WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

func open(t testing.TB, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(dir, append([]Option{quiet}, opts...)...)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) invalidation.Store { return open(t, t.TempDir()) })
}

func TestDurable(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T, dir string) invalidation.Store { return open(t, dir) })
}

// With the fleet event logged with every create, as serve opens it.
func TestConformanceWithEvents(t *testing.T) {
	ev := WithInvalidationEvent(fleet.InvalidationEvent)
	storetest.Run(t, func(t *testing.T) invalidation.Store { return open(t, t.TempDir(), ev) })
	storetest.RunDurable(t, func(t *testing.T, dir string) invalidation.Store { return open(t, dir, ev) })
}

// TestOpenLocked: a second openfront on the same directory is refused.
func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	if s2, err := Open(dir, quiet); err == nil {
		s2.Close()
		t.Fatal("second Open of a directory in use succeeded")
	} else if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name %s", err, dir)
	}
}

func newInv(dist, ref string, paths ...string) invalidation.Invalidation {
	return invalidation.Invalidation{DistributionID: dist, Status: invalidation.InProgress,
		CreateTime: time.Date(2026, 11, 26, 3, 0, 0, 123e6, time.UTC), Batch: invalidation.Batch{CallerReference: ref, Paths: paths}}
}

func create(t testing.TB, s *Store, inv invalidation.Invalidation) invalidation.Invalidation {
	t.Helper()
	got, created, err := s.Create(bg, inv, allowAll)
	if err != nil || !created {
		t.Fatalf("Create(%s): created %v, err %v", inv.Batch.CallerReference, created, err)
	}
	return got
}

// state is everything a store shows, for comparing two stores.
func state(t testing.TB, s *Store) string {
	t.Helper()
	var b strings.Builder
	s.mu.Lock()
	dists := make([]string, 0, len(s.dists))
	for id := range s.dists {
		dists = append(dists, id)
	}
	s.mu.Unlock()
	slices.Sort(dists)
	for _, d := range dists {
		page, _, err := s.List(bg, d, "", 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range page {
			fmt.Fprintf(&b, "inv %s %s %s %s %v %v %q\n", inv.DistributionID, inv.ID, inv.Status, inv.Batch.CallerReference,
				inv.CreateTime.UnixNano(), inv.CompleteTime.UnixNano(), inv.Batch.Paths)
		}
		if n, _ := s.CountInProgress(bg, d); n > 0 || len(page) > 0 {
			fmt.Fprintf(&b, "count %s %d\n", d, n)
		}
	}
	ip, err := s.InProgress(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range ip {
		fmt.Fprintf(&b, "inprogress %s\n", inv.ID)
	}
	ds, err := s.Distributions(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		fmt.Fprintf(&b, "dist %s %s %v\n", d.ID, d.CallerReference, d.Refs)
	}
	for _, kind := range []resource.Kind{resource.CachePolicy, resource.OriginRequestPolicy, resource.ResponseHeadersPolicy,
		resource.OriginAccessControl, resource.OriginAccessIdentity} {
		rs, err := s.Resources(bg, kind)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			fmt.Fprintf(&b, "res %s %s %q %s %v %v %q %q %v\n", r.Kind, r.ID, r.Name, r.ETag, r.LastModified.UnixNano(), r.Managed, r.Config, r.Raw, r.Refs)
		}
	}
	first, last, err := s.LogBounds(bg)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "bounds %d %d\n", first, last)
	evs, err := s.EventsAfter(bg, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		fmt.Fprintf(&b, "event %d %x\n", e.Pos, e.Data)
	}
	edges, err := s.Edges(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(mapKeys(edges)) {
		fmt.Fprintf(&b, "edge %s %s\n", name, edges[name])
	}
	return b.String()
}

func mapKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// workload writes a bit of everything the store keeps, one write per
// commit, and returns the log's size after each write.
func workload(t *testing.T, s *Store) []int64 {
	t.Helper()
	var sizes []int64
	note := func() {
		s.mu.Lock()
		sizes = append(sizes, s.end)
		s.mu.Unlock()
	}
	var invs []invalidation.Invalidation
	for i := range 6 {
		invs = append(invs, create(t, s, newInv(fmt.Sprint("E", i%2), fmt.Sprint("ref-", i), fmt.Sprint("/p/", i), "/w*")))
		note()
	}
	own := newInv("E0", "own-id", "/own")
	own.ID = "IOWNID00000001"
	create(t, s, own)
	note()
	for _, i := range []int{0, 3} {
		if err := s.Complete(bg, invs[i].DistributionID, invs[i].ID, time.Date(2026, 11, 26, 4, 0, 0, 5, time.UTC)); err != nil {
			t.Fatal(err)
		}
		note()
	}
	cp := resource.Resource{Kind: resource.CachePolicy, ID: "CP1", Name: "policy", ETag: "EV1", Config: []byte(`{"ttl":1}`), Raw: []byte("<v1/>")}
	if _, err := s.CreateResource(bg, cp, nil); err != nil {
		t.Fatal(err)
	}
	note()
	ref := []resource.Ref{{Kind: resource.CachePolicy, ID: "CP1"}}
	if err := s.CreateDistribution(bg, distribution.Distribution{ID: "EAPI", CallerReference: "api-ref", Refs: ref}); err != nil {
		t.Fatal(err)
	}
	note()
	if err := s.CreateDistribution(bg, distribution.Distribution{ID: "E1", CallerReference: "e1-ref"}); err != nil {
		t.Fatal(err)
	}
	note()
	if _, err := s.UpdateResource(bg, cp.Kind, cp.ID, func(r *resource.Resource) error {
		r.ETag, r.Managed, r.LastModified = "EV2", true, time.Date(2026, 11, 26, 4, 0, 0, 7, time.UTC)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	note()
	oac := resource.Resource{Kind: resource.OriginAccessControl, ID: "OAC1", Name: "oac", Refs: ref}
	if _, err := s.CreateResource(bg, oac, nil); err != nil {
		t.Fatal(err)
	}
	note()
	if err := s.DeleteResource(bg, oac.Kind, oac.ID, nil); err != nil {
		t.Fatal(err)
	}
	note()
	if _, err := s.AppendEvent(bg, "dist/EAPI/1", []byte(`{"kind":"deploy"}`)); err != nil {
		t.Fatal(err)
	}
	note()
	for _, name := range []string{"local", "other"} {
		if err := s.PutEdge(bg, name, []byte(`{"applied":3}`)); err != nil {
			t.Fatal(err)
		}
		note()
	}
	if err := s.DeleteEdge(bg, "other"); err != nil {
		t.Fatal(err)
	}
	note()
	if err := s.TrimEvents(bg, 3); err != nil {
		t.Fatal(err)
	}
	note()
	if err := s.DeleteDistribution(bg, "E1", nil); err != nil {
		t.Fatal(err)
	}
	note()
	create(t, s, newInv("E1", "ref-1", "/again"))
	note()
	return sizes
}

// TestTornTail cuts the log at every byte offset of its last records (a
// crash during a write) and checks that Open recovers exactly the state
// of the last whole commit before the cut, and says how much it dropped.
func TestTornTail(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs in the full suite")
	}
	ev := WithInvalidationEvent(fleet.InvalidationEvent)
	dir := t.TempDir()
	s := open(t, dir, ev)
	sizes := workload(t, s)
	s.Close()
	full, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	// The state after each commit, from a copy cut right after it.
	want := map[int64]string{}
	for _, size := range append([]int64{headerSize}, sizes...) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, FileName), full[:size], 0o600)
		s := open(t, d, ev)
		want[size] = state(t, s)
		s.Close()
	}
	// Every cut inside the last four commits.
	from := sizes[len(sizes)-5]
	for cut := from; cut <= int64(len(full)); cut++ {
		d := t.TempDir()
		path := filepath.Join(d, FileName)
		os.WriteFile(path, full[:cut], 0o600)
		var logged bytes.Buffer
		s, err := Open(d, ev, WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		good := int64(headerSize)
		for _, size := range sizes {
			if size <= cut {
				good = size
			}
		}
		if got := state(t, s); got != want[good] {
			t.Fatalf("cut at %d: state differs from that of the commit ending at %d:\n%s\nwant:\n%s", cut, good, got, want[good])
		}
		if cut != good && !strings.Contains(logged.String(), fmt.Sprintf("bytes_dropped=%d", cut-good)) {
			t.Errorf("cut at %d: the drop of %d bytes was not logged: %s", cut, cut-good, logged.String())
		}
		// The store goes on from there, and the cut stays cut.
		create(t, s, newInv("E9", "after-cut", "/x"))
		s.Close()
		s = open(t, d, ev)
		if _, created, err := s.Create(bg, newInv("E9", "after-cut", "/x"), allowAll); err != nil || created {
			t.Fatalf("cut at %d: the create after recovery was lost: %v %v", cut, created, err)
		}
		s.Close()
	}
}

// workloadLog runs workload on a new store and closes it, returning the
// log's length after each commit, the state, and the log's bytes.
func workloadLog(t *testing.T) (sizes []int64, want string, full []byte) {
	t.Helper()
	dir := t.TempDir()
	s := open(t, dir)
	sizes = workload(t, s)
	want = state(t, s)
	s.Close()
	full, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return sizes, want, full
}

// TestCorruptTail: a flipped bit in the last frame is cut off like a torn
// write; a flipped bit in an earlier frame, with intact frames after it,
// refuses to open instead of dropping acknowledged writes.
func TestCorruptTail(t *testing.T) {
	sizes, want, full := workloadLog(t)
	last := sizes[len(sizes)-2] // start of the last frame
	for _, off := range []int64{last, last + 3, last + 9, int64(len(full)) - 1} {
		d := t.TempDir()
		bad := slices.Clone(full)
		bad[off] ^= 0x10
		os.WriteFile(filepath.Join(d, FileName), bad, 0o600)
		s := open(t, d)
		got := state(t, s)
		s.Close()
		if got == want {
			t.Errorf("bit flipped at %d: the last frame was kept", off)
		}
		fi, _ := os.Stat(filepath.Join(d, FileName))
		if fi.Size() != last {
			t.Errorf("bit flipped at %d: file is %d bytes after recovery, want %d", off, fi.Size(), last)
		}
	}
	d := t.TempDir()
	bad := slices.Clone(full)
	bad[sizes[2]+10] ^= 0x01
	os.WriteFile(filepath.Join(d, FileName), bad, 0o600)
	if s, err := Open(d, quiet); err == nil {
		s.Close()
		t.Fatal("a corrupt frame in the middle of the log was accepted")
	} else if !strings.Contains(err.Error(), "not a torn write") {
		t.Errorf("error does not say what is wrong: %v", err)
	}
}

// TestGarbageTail: after a torn last frame, a filesystem that writes
// metadata before data may leave stale blocks where the zeros written
// ahead did not reach the disk; the log still opens, without them. A long stretch of
// garbage, which no crash leaves, is refused with an error that says so
// instead of a search that would take hours (its cost grows with the cube
// of the stretch; the test lowers the bound to stay fast).
func TestGarbageTail(t *testing.T) {
	sizes, want, full := workloadLog(t)
	last := sizes[len(sizes)-1]
	rnd := rand.New(rand.NewPCG(7, 7))

	// A torn frame (half of a copy of an earlier one, whose checksum then
	// fails), then 4 MiB of stale bytes: the default bound allows it.
	d := t.TempDir()
	prev := full[sizes[len(sizes)-3]:sizes[len(sizes)-2]]
	torn := slices.Concat(full[:last], prev[:len(prev)/2], garbage(rnd, 4<<20))
	os.WriteFile(filepath.Join(d, FileName), torn, 0o600)
	s := open(t, d)
	if got := state(t, s); got != want {
		t.Errorf("after a torn frame and stale blocks:\n%s\nwant\n%s", got, want)
	}
	s.Close()
	if fi, _ := os.Stat(filepath.Join(d, FileName)); fi.Size() != last {
		t.Errorf("file is %d bytes after recovery, want %d", fi.Size(), last)
	}

	// 16 MiB of garbage would need 171 GiB checksummed at most; with the
	// bound at 1 GiB, Open gives up and says why.
	defer func(b int64) { scanBudget = b }(scanBudget)
	scanBudget = 1 << 30
	d = t.TempDir()
	os.WriteFile(filepath.Join(d, FileName), slices.Concat(full[:last], garbage(rnd, 16<<20)), 0o600)
	if s, err := Open(d, quiet); err == nil {
		s.Close()
		t.Fatal("16 MiB of garbage after the log was cut off as if torn")
	} else if !strings.Contains(err.Error(), "too long a damaged stretch") || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", last)) {
		t.Errorf("error does not say what is wrong: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(d, FileName)); fi.Size() != last+16<<20 {
		t.Errorf("the refused file was changed: %d bytes", fi.Size())
	}
}

// TestZeroTail: a crash can leave the file longer, with zeros where the
// data did not reach the disk.
func TestZeroTail(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	create(t, s, newInv("E1", "r", "/a"))
	want := state(t, s)
	s.Close()
	f, _ := os.OpenFile(filepath.Join(dir, FileName), os.O_WRONLY|os.O_APPEND, 0)
	f.Write(make([]byte, 4096))
	f.Close()
	var logged bytes.Buffer
	s, err := Open(dir, WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := state(t, s); got != want {
		t.Errorf("after a zero tail:\n%s\nwant:\n%s", got, want)
	}
	if logged.Len() > 0 {
		t.Errorf("zeros after the log were reported: %s", logged.String())
	}
	// The store goes on writing over the zeros.
	create(t, s, newInv("E1", "r2", "/b"))
	s.Close()
	s = open(t, dir)
	if n, _ := s.CountInProgress(bg, "E1"); n != 2 {
		t.Errorf("CountInProgress = %d, want 2", n)
	}
}

func TestEmptyFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), nil, 0o600)
	s := open(t, dir)
	create(t, s, newInv("E1", "r", "/a"))
	s.Close()
	s = open(t, dir)
	defer s.Close()
	if n, _ := s.CountInProgress(bg, "E1"); n != 1 {
		t.Errorf("CountInProgress = %d after reopen, want 1", n)
	}
}

func TestRefusesOtherFiles(t *testing.T) {
	s := open(t, t.TempDir())
	s.Close()
	header, _ := os.ReadFile(s.path)
	future := slices.Clone(header)
	binary.LittleEndian.PutUint32(future[8:], formatVersion+1)
	// A newer binary writes a valid header for its version.
	copy(future[32:], encodeHeaderCRC(future[:32]))
	cases := map[string]struct {
		data []byte
		want string
	}{
		"future version": {future, "newer openfront"},
		"not a log":      {[]byte("SQLite format 3\x00 and so on and so on and so on"), "not an openfront log"},
		"short header":   {header[:10], "not an openfront log"},
		"bad header":     {append(slices.Clone(header[:20]), make([]byte, 16)...), "checksum"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, FileName), c.data, 0o600)
			s, err := Open(dir, quiet)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not say %q and name the file", err, c.want)
			}
			if name == "future version" && !errors.Is(err, errFutureVersion) {
				t.Errorf("error %v is not errFutureVersion", err)
			}
		})
	}
}

func encodeHeaderCRC(h []byte) []byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], crc32.Checksum(h, castagnoli))
	return b[:]
}

// TestCompaction: a log grown well past its live size is rewritten at Open
// and online; the state is the same after, and Ids, sequence numbers and
// event positions are never handed out again.
func TestCompaction(t *testing.T) {
	ev := WithInvalidationEvent(fleet.InvalidationEvent)
	dir := t.TempDir()
	small := func(s *Store) { s.compactMin = 1 } // compact as soon as the log doubles
	s := open(t, dir, ev, small)
	workload(t, s)
	if err := s.CreateDistribution(bg, distribution.Distribution{ID: "E5", CallerReference: "e5-ref"}); err != nil {
		t.Fatal(err)
	}
	// Churn: created, completed, their events trimmed.
	seen := map[string]bool{}
	for i := range 300 {
		inv := create(t, s, newInv("E5", fmt.Sprint("churn-", i), "/c"))
		seen[inv.ID] = true
		if err := s.Complete(bg, "E5", inv.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			_, last, _ := s.LogBounds(bg)
			if err := s.TrimEvents(bg, last-5); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.DeleteDistribution(bg, "E5", nil); err != nil {
		t.Fatal(err)
	}
	want := state(t, s)
	s.mu.Lock()
	online := s.snapSize > headerSize+100
	s.mu.Unlock()
	if !online {
		t.Errorf("no online compaction happened")
	}
	s.Close()
	before, _ := os.Stat(s.path)

	s, err := Open(dir, ev, quiet, small)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(s.path)
	t.Logf("log %d bytes before reopen, %d after", before.Size(), after.Size())
	if got := state(t, s); got != want {
		t.Fatalf("state after compaction:\n%s\nwant:\n%s", got, want)
	}
	_, lastPos, _ := s.LogBounds(bg)
	for i := range 20 {
		inv := create(t, s, newInv("E5", fmt.Sprint("churn-", i), "/c"))
		if seen[inv.ID] {
			t.Fatalf("Id %s handed out again after compaction", inv.ID)
		}
	}
	_, last2, _ := s.LogBounds(bg)
	if last2 != lastPos+20 {
		t.Errorf("event positions after compaction: last %d, want %d", last2, lastPos+20)
	}
	// A trimmed event of a deleted distribution's invalidation is never
	// appended again.
	if pos, err := s.AppendEvent(bg, "dist/EAPI/1", []byte("again")); err != nil || pos > lastPos {
		t.Errorf("AppendEvent of a logged key = %d, %v; want its old position", pos, err)
	}
	s.Close()
	s = open(t, dir, ev)
	defer s.Close()
	if got := state(t, s); !strings.Contains(got, "count E5 20\n") {
		t.Errorf("after reopen: %s", got)
	}
}

// TestReplayWaitsForDurable: a replay of a CallerReference whose create is
// still being written returns only once that create is on disk.
func TestReplayWaitsForDurable(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 200 {
		ref := fmt.Sprint("r", i/4)
		wg.Go(func() {
			got, _, err := s.Create(bg, newInv("E1", ref, "/a"), allowAll)
			if err != nil {
				t.Error(err)
				return
			}
			s.mu.Lock()
			r := s.find(s.dists["E1"], got.ID)
			durable := r != nil && r.createEpoch <= s.durable
			s.mu.Unlock()
			if !durable {
				t.Errorf("Create returned %s before its record was on disk", got.ID)
			}
		})
	}
	wg.Wait()
}

// TestWriteFailure: once a write fails the store refuses writes (a restart
// recovers from the file) and never reports the failed write done.
func TestWriteFailure(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	a := create(t, s, newInv("E1", "a", "/a"))
	s.mu.Lock()
	s.f.Close() // the next write fails
	s.mu.Unlock()
	if _, created, err := s.Create(bg, newInv("E1", "b", "/b"), allowAll); err == nil || created {
		t.Fatalf("Create on a failed file = %v, %v", created, err)
	}
	if _, _, err := s.Create(bg, newInv("E1", "c", "/c"), allowAll); err == nil {
		t.Fatal("Create after a failed write succeeded")
	}
	if got, err := s.Get(bg, "E1", a.ID); err != nil || got.ID != a.ID {
		t.Errorf("Get of a durable invalidation after a failure = %v, %v", got, err)
	}
	s.Close()
	s = open(t, dir)
	defer s.Close()
	if page, _, _ := s.List(bg, "E1", "", 10); len(page) != 1 {
		t.Errorf("after restart: %d invalidations, want 1", len(page))
	}
}

// TestGroupCommit: concurrent creates share frames.
func TestGroupCommit(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 256 {
		wg.Go(func() { create(t, s, newInv("E1", fmt.Sprint("r", i), "/a")) })
	}
	wg.Wait()
	t.Logf("256 creates in %d commits", s.Commits())
	if s.Commits() >= 256 {
		t.Errorf("256 concurrent creates took %d commits", s.Commits())
	}
}

// TestLinger: the flusher holds a frame open for more writes only while
// writes arrive faster than twice per lingerMax, the frame has fewer than
// lingerWrites, and lingerMax has not passed since its first write.
func TestLinger(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &batch{writes: 1, first: time.Now()}
	for _, c := range []struct {
		name   string
		gap    time.Duration
		writes int
		since  time.Duration
		wait   bool
	}{
		{"writes arrive fast", 20 * time.Microsecond, 1, 0, true},
		{"frame has enough", 20 * time.Microsecond, lingerWrites, 0, false},
		{"writes far apart (one client)", lingerMax, 1, 0, false},
		{"first write waited long enough", 20 * time.Microsecond, 1, lingerMax, false},
		{"no write to go at once", 20 * time.Microsecond, 0, 0, false},
	} {
		s.gap, b.writes, b.first = c.gap, c.writes, time.Now().Add(-c.since)
		if w := s.linger(b); (w > 0) != c.wait || w > lingerMax {
			t.Errorf("%s: linger %v, want waiting %v (at most %v)", c.name, w, c.wait, lingerMax)
		}
	}
	s.gap, b.writes, b.first = 20*time.Microsecond, 1, time.Now()
	s.closed = true
	if w := s.linger(b); w > 0 {
		t.Errorf("closing: linger %v, want none", w)
	}
	s.closed = false
}

// TestStampMeasuresGap: a lone writer's gap stays above the threshold
// (its frames are never held), many writers' falls below it.
func TestStampMeasuresGap(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	create(t, s, newInv("E1", "r0", "/a"))
	s.mu.Lock()
	gap := s.gap
	s.mu.Unlock()
	if gap <= lingerMax/2 {
		t.Errorf("after one write gap = %v, want above %v", gap, lingerMax/2)
	}
	s.mu.Lock()
	for range 64 {
		s.stamp() // back to back: a burst of writers
	}
	gap = s.gap
	s.mu.Unlock()
	if gap > lingerMax/2 {
		t.Errorf("after a burst gap = %v, want at most %v", gap, lingerMax/2)
	}
}

// TestCrashCopy: the file of a running store (not closed, with space
// written ahead past the log) opens to everything acknowledged, also once
// the log has outgrown the first space written ahead.
func TestCrashCopy(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	long := "/" + strings.Repeat("p", 3999)
	var wg sync.WaitGroup
	for i := range 1500 {
		wg.Go(func() { create(t, s, newInv(fmt.Sprint("E", i%3), fmt.Sprint("r", i), long, fmt.Sprint("/", i))) })
	}
	wg.Wait()
	want := state(t, s)
	data, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	end := s.end
	s.mu.Unlock()
	if int64(len(data)) <= end || end < writeAhead {
		t.Fatalf("file %d bytes, log %d: expected a log past %d bytes with zeros after it", len(data), end, writeAhead)
	}
	crashed := t.TempDir()
	os.WriteFile(filepath.Join(crashed, FileName), data, 0o600)
	s2 := open(t, crashed)
	defer s2.Close()
	if got := state(t, s2); got != want {
		t.Errorf("state of the copy differs")
	}
}

// TestCompactionUnderLoad: online compactions while writers create,
// complete, append and trim lose nothing and change nothing, and a crash
// copy taken at the end opens to the same state.
func TestCompactionUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs in the full suite")
	}
	var logged testutil.SyncBuffer
	dir := t.TempDir()
	s := open(t, dir, WithInvalidationEvent(fleet.InvalidationEvent), WithLogger(slog.New(slog.NewTextHandler(&logged, nil))),
		func(s *Store) { s.compactMin = 32 << 10 })
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 300 {
				inv := create(t, s, newInv(fmt.Sprint("E", w%3), fmt.Sprint("w", w, "-", i), "/a", fmt.Sprint("/b/", i)))
				if i%3 != 0 {
					if err := s.Complete(bg, inv.DistributionID, inv.ID, time.Now()); err != nil {
						t.Error(err)
						return
					}
				}
				if _, err := s.AppendEvent(bg, fmt.Sprint("other/", w, "/", i), []byte("x")); err != nil {
					t.Error(err)
					return
				}
				if i%40 == 39 {
					_, last, _ := s.LogBounds(bg)
					if err := s.TrimEvents(bg, last-30); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	want := state(t, s)
	n := strings.Count(logged.String(), "log store: compacted")
	t.Logf("%d online compactions", n)
	if n == 0 {
		t.Error("no online compaction")
	}
	data, _ := os.ReadFile(s.path)
	s.Close()
	crashed := t.TempDir()
	os.WriteFile(filepath.Join(crashed, FileName), data, 0o600)
	for _, d := range []string{dir, crashed} {
		s := open(t, d, WithInvalidationEvent(fleet.InvalidationEvent))
		if got := state(t, s); got != want {
			t.Errorf("%s: state after reopen differs", d)
		}
		s.Close()
	}
}

// TestReadsAfterBarrierDurable: Edges and Distributions wait for the writes
// made before them, and must not show one made while they waited either
// (it would be read back from the open batch, before its fdatasync).
func TestReadsAfterBarrierDurable(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	writer := func(write func(i int)) {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				write(i)
			}
		})
	}
	writer(func(i int) { s.PutEdge(bg, "e", fmt.Appendf(nil, "ver-%08d", i)) })
	writer(func(i int) {
		s.CreateDistribution(bg, distribution.Distribution{ID: fmt.Sprintf("D%08d", i), CallerReference: fmt.Sprint("x", i)})
	})
	// inOpenBatch: data is in the batch not yet taken by the flusher, so
	// not on disk (each version's bytes are unique).
	inOpenBatch := func(data []byte) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(data) > 0 && bytes.Contains(s.open.buf, data)
	}
	var badEdges, badDists int
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		edges, err := s.Edges(bg)
		if err != nil {
			t.Fatal(err)
		}
		if inOpenBatch(edges["e"]) {
			badEdges++
		}
		ds, err := s.Distributions(bg)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 0 && inOpenBatch([]byte(ds[len(ds)-1].ID)) {
			badDists++
		}
	}
	close(stop)
	wg.Wait()
	if badEdges > 0 || badDists > 0 {
		t.Errorf("shown before on disk: an edge's entry %d times, a distribution %d times", badEdges, badDists)
	}
}

// diskStatus is the status of invalidation id of E1 in a copy of the log
// as it is on disk now (what a kill -9 would leave).
func diskStatus(t *testing.T, s *Store, id string) invalidation.Status {
	t.Helper()
	data, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	crashed := t.TempDir()
	os.WriteFile(filepath.Join(crashed, FileName), data, 0o600)
	c := open(t, crashed)
	defer c.Close()
	got, err := c.Get(bg, "E1", id)
	if err != nil {
		t.Fatalf("on disk: %v", err)
	}
	return got.Status
}

// TestCompletionWaitsForFrame: a completion record waits for a frame that
// another write makes (or for a reader that needs it, or its delay),
// rather than costing a frame of its own; it is shown Completed, and
// Complete returns, only once it is on disk.
func TestCompletionWaitsForFrame(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs in the full suite")
	}
	s := open(t, t.TempDir())
	defer s.Close()
	// pending completes id with a delay of an hour and returns once the
	// record is in memory (in the open batch), with Complete's result.
	pending := func(id string) chan error {
		t.Helper()
		s.mu.Lock()
		s.completeDelay = time.Hour
		s.mu.Unlock()
		res := make(chan error, 1)
		go func() { res <- s.Complete(bg, "E1", id, time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)) }()
		testutil.Eventually(t, 10*time.Second, func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			_, r, _ := s.lookup("E1", id)
			return r.done
		}, "the completion record in memory")
		// A negative (nothing is written while no frame is due): only a
		// pause can show it. A flusher that wrongly writes the record
		// does so as soon as it is kicked, well within this pause.
		time.Sleep(20 * time.Millisecond)
		select {
		case err := <-res:
			t.Fatalf("Complete returned (%v) before any frame was due", err)
		default:
		}
		if got, _ := s.Get(bg, "E1", id); got.Status != invalidation.InProgress {
			t.Fatalf("Get shows %s before the completion is on disk", got.Status)
		}
		if st := diskStatus(t, s, id); st != invalidation.InProgress {
			t.Fatalf("completion on disk (%s) although no frame was due", st)
		}
		return res
	}
	completed := func(res chan error, id string) {
		t.Helper()
		select {
		case err := <-res:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Complete did not return")
		}
		if got, _ := s.Get(bg, "E1", id); got.Status != invalidation.Completed {
			t.Errorf("Get after Complete returned: %s", got.Status)
		}
		if st := diskStatus(t, s, id); st != invalidation.Completed {
			t.Errorf("on disk after Complete returned: %s", st)
		}
	}

	// A create's frame carries it.
	a := create(t, s, newInv("E1", "a", "/a"))
	res := pending(a.ID)
	before := s.Commits()
	create(t, s, newInv("E1", "b", "/b"))
	completed(res, a.ID)
	if n := s.Commits() - before; n != 1 {
		t.Errorf("a create and a waiting completion took %d frames, want 1", n)
	}

	// A reader that needs it (here CountInProgress) has it written.
	c := create(t, s, newInv("E1", "c", "/c"))
	res = pending(c.ID)
	counted := make(chan error, 1)
	go func() {
		n, err := s.CountInProgress(bg, "E1")
		if err == nil && n != 1 {
			err = fmt.Errorf("CountInProgress = %d, want 1 (b)", n)
		}
		counted <- err
	}()
	select {
	case err := <-counted:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("CountInProgress waits for a completion nobody writes")
	}
	completed(res, c.ID)

	// With no other write, it is written at its delay.
	d := create(t, s, newInv("E1", "d", "/d"))
	s.mu.Lock()
	s.completeDelay = 5 * time.Millisecond
	s.mu.Unlock()
	before = s.Commits()
	if err := s.Complete(bg, "E1", d.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(bg, "E1", d.ID); got.Status != invalidation.Completed {
		t.Errorf("Get after Complete returned: %s", got.Status)
	}
	if st := diskStatus(t, s, d.ID); st != invalidation.Completed {
		t.Errorf("on disk after Complete returned: %s", st)
	}
	if n := s.Commits() - before; n != 1 {
		t.Errorf("a lone completion took %d frames, want 1", n)
	}

	// Close writes what waits.
	e := create(t, s, newInv("E1", "e", "/e"))
	res = pending(e.ID)
	s.Close()
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	if st := diskStatus(t, s, e.ID); st != invalidation.Completed {
		t.Errorf("on disk after Close: %s", st)
	}
}

func TestIsInvEventKey(t *testing.T) {
	for _, c := range []struct{ dist, id string }{{"E1", "I1"}, {"EDFDVBD6EXAMPLE", "IABCDEFGHIJKLM"}, {"", ""}, {"a/b", "c"}} {
		key := invEventKey(c.dist, c.id)
		if !isInvEventKey(key, c.dist, c.id) {
			t.Errorf("isInvEventKey(%q, %q, %q) = false", key, c.dist, c.id)
		}
		for _, other := range []string{key + "x", key[:len(key)-1], "x" + key[1:], "inv/" + c.dist + "x" + c.id, invEventKey(c.dist+"/", c.id)} {
			if other != key && isInvEventKey(other, c.dist, c.id) {
				t.Errorf("isInvEventKey(%q, %q, %q) = true", other, c.dist, c.id)
			}
		}
	}
}
