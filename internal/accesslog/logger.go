package accesslog

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of a Logger, documented in docs/architecture.md ("Access logs").
const (
	// handoffBytes is how full a shard's buffer gets before it is handed
	// to the writer.
	handoffBytes = 64 << 10
	// shardMaxBytes bounds a shard's buffer while the writer's queue is
	// full: past it, lines are dropped.
	shardMaxBytes = 256 << 10
	// queueBuffers is how many full buffers may wait for the writer.
	queueBuffers = 48
	// DefaultFlushInterval is how often lines are written out and every
	// open file's gzip member closed, when the Config gives none.
	DefaultFlushInterval = 30 * time.Second
	// warnEvery rate-limits the warning about dropped lines and failed
	// writes.
	warnEvery = time.Minute
	// closeWait bounds how long Close waits for the last lines to be
	// written.
	closeWait = 10 * time.Second
)

// Config is what New builds a Logger from.
type Config struct {
	// Dir is the directory the files go under; created if missing.
	Dir string
	// FlushInterval is how often buffered lines are written and the open
	// files' gzip members closed (a file is then readable whole); at most
	// a minute, DefaultFlushInterval when 0.
	FlushInterval time.Duration
	// Logger receives the warnings about failed writes and dropped lines
	// (at most one a minute); slog.Default when nil.
	Logger *slog.Logger
	// Now is the clock for rotation; time.Now when nil.
	Now func() time.Time

	stall chan struct{} // tests: the writer waits for it before writing
}

// Logger writes access logs. Build it with New, log with Log, stop it with
// Close (which writes out everything logged before).
type Logger struct {
	root     *os.Root
	dir      string
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time
	stall    chan struct{}

	shards []shard
	queue  chan []byte // full buffers for the writer
	free   chan []byte // empty buffers back from it
	flushc chan chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed atomic.Bool

	dropped atomic.Uint64 // lines dropped (backlog full, or a write failed)
	written atomic.Uint64 // lines written to a file

	// The writer goroutine's own state.
	files    map[fileKey]*file
	failed   map[fileKey]bool // keys whose file failed since the last flush
	warnedAt time.Time
	warnDrop uint64 // dropped at the last warning
	lastErr  error  // the last write error, for the warning
}

// shard is one of the buffers requests format their lines into; a caller
// picks one by a hint (its connection), so concurrent requests seldom
// share one.
type shard struct {
	mu  sync.Mutex
	buf []byte // records (below), guarded by mu
	// The date and time text of second sec, guarded by mu: formatted
	// once per second rather than per line.
	sec int64
	dt  [dateTimeLen]byte
	_   [24]byte
}

// New opens (creating it) the directory and starts the writer.
func New(c Config) (*Logger, error) {
	if c.FlushInterval <= 0 || c.FlushInterval > time.Minute {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("access log directory: %w", err)
	}
	root, err := os.OpenRoot(c.Dir)
	if err != nil {
		return nil, fmt.Errorf("access log directory: %w", err)
	}
	n := max(runtime.GOMAXPROCS(0)*4, 8)
	l := &Logger{
		root: root, dir: c.Dir, interval: c.FlushInterval, log: c.Logger, now: c.Now, stall: c.stall,
		shards: make([]shard, n),
		queue:  make(chan []byte, queueBuffers),
		free:   make(chan []byte, queueBuffers),
		flushc: make(chan chan struct{}),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		files:  map[fileKey]*file{},
		failed: map[fileKey]bool{},
	}
	go l.run()
	return l, nil
}

// A record in a buffer: uvarint length of the prefix, prefix, uvarint
// length of the distribution id, id, the hour (Unix seconds / 3600,
// uvarint), uvarint length of the line, line.

// Log records e for the distribution with the Id, under prefix (the
// distribution's Logging.Prefix: "" for none), with its cookie when
// cookies. hint spreads concurrent callers over the buffers (a connection
// id). It never blocks on the disk: when the writer is behind by the
// bounded backlog, the line is dropped and counted.
func (l *Logger) Log(hint uint64, distID, prefix string, cookies bool, e *Entry) {
	if l.closed.Load() {
		l.dropped.Add(1)
		return
	}
	s := &l.shards[hint%uint64(len(l.shards))]
	s.mu.Lock()
	if len(s.buf) >= shardMaxBytes {
		s.mu.Unlock()
		l.dropped.Add(1)
		return
	}
	b := s.buf
	if b == nil {
		b = make([]byte, 0, handoffBytes+4<<10)
	}
	b = binary.AppendUvarint(b, uint64(len(prefix)))
	b = append(b, prefix...)
	b = binary.AppendUvarint(b, uint64(len(distID)))
	b = append(b, distID...)
	b = binary.AppendUvarint(b, uint64(max(e.Time.Unix(), 0)/3600))
	// The line's length goes before it: reserve the most a uvarint of it
	// can take (lines are far below 2^28) and move it if shorter.
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	if sec := e.Time.Unix(); sec != s.sec || s.dt[0] == 0 {
		appendDateTime(s.dt[:0], e.Time)
		s.sec = sec
	}
	b = append(b, s.dt[:]...)
	b = appendLine(b, e, cookies)
	n := len(b) - at - 4
	var lb [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(lb[:], uint64(n))
	copy(b[at:], lb[:k])
	if k < 4 {
		copy(b[at+k:], b[at+4:])
		b = b[:len(b)-(4-k)]
	}
	s.buf = b
	if len(b) >= handoffBytes {
		select {
		case l.queue <- b:
			select {
			case s.buf = <-l.free:
			default:
				s.buf = make([]byte, 0, handoffBytes+4<<10)
			}
		default: // the writer is behind: keep it, up to shardMaxBytes
		}
	}
	s.mu.Unlock()
}

// Dropped returns how many lines were dropped: the backlog was full, or
// their file could not be written.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// Written returns how many lines were written to files.
func (l *Logger) Written() uint64 { return l.written.Load() }

// Flush writes out every line logged before it and closes the open files'
// gzip members, as the periodic flush does; for tests.
func (l *Logger) Flush() {
	ch := make(chan struct{})
	select {
	case l.flushc <- ch:
		<-ch
	case <-l.done:
	}
}

// Close writes out every line logged before it, closes the files and
// stops the writer. Lines logged after are dropped. It waits at most
// closeWait for a disk that does not answer, and then returns an error
// (the writer finishes, or not, on its own).
func (l *Logger) Close() error {
	if !l.closed.Swap(true) {
		close(l.stop)
	}
	select {
	case <-l.done:
	case <-time.After(closeWait):
		return fmt.Errorf("access log: writing out the last lines to %s did not finish within %v", l.dir, closeWait)
	}
	return l.root.Close()
}

// run is the writer goroutine.
func (l *Logger) run() {
	defer close(l.done)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case b := <-l.queue:
			l.writeBuf(b)
		case <-t.C:
			l.flush(false)
		case ch := <-l.flushc:
			l.flush(false)
			close(ch)
		case <-l.stop:
			l.flush(true)
			return
		}
	}
}

// flush writes what is queued and buffered, closes every open file's gzip
// member, and closes the files of past hours (all of them when final).
func (l *Logger) flush(final bool) {
	for {
		select {
		case b := <-l.queue:
			l.writeBuf(b)
			continue
		default:
		}
		break
	}
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		b := s.buf
		if len(b) > 0 {
			s.buf = nil
			select {
			case s.buf = <-l.free:
			default:
			}
		}
		s.mu.Unlock()
		if len(b) > 0 {
			l.writeBuf(b)
		}
	}
	hour := max(l.now().Unix(), 0) / 3600
	for k, f := range l.files {
		if err := f.endMember(); err != nil {
			l.fail(k, f, err)
			continue
		}
		if final || k.hour < uint64(hour) {
			if err := f.close(); err != nil {
				l.fail(k, f, err)
				continue
			}
			delete(l.files, k)
		}
	}
	clear(l.failed)
	if final {
		l.warnedAt = time.Time{} // the last word is not rate-limited
	}
	l.warn()
}

// fileKey names the file a record goes to.
type fileKey struct {
	prefix, dist string
	hour         uint64
}

// writeBuf writes a buffer's records into their files, then gives the
// buffer back.
func (l *Logger) writeBuf(b []byte) {
	if l.stall != nil {
		<-l.stall
	}
	rest := b
	var k fileKey // the last record's: most records of a buffer share it
	for len(rest) > 0 {
		var prefix, dist, line []byte
		var ok bool
		if prefix, rest, ok = bytesOf(rest); !ok {
			break
		}
		if dist, rest, ok = bytesOf(rest); !ok {
			break
		}
		h, n := binary.Uvarint(rest)
		if n <= 0 {
			break
		}
		rest = rest[n:]
		if line, rest, ok = bytesOf(rest); !ok {
			break
		}
		if string(prefix) != k.prefix || string(dist) != k.dist {
			k.prefix, k.dist = string(prefix), string(dist)
		}
		k.hour = h
		l.writeLine(k, line)
	}
	select {
	case l.free <- b[:0]:
	default:
	}
}

func bytesOf(b []byte) (v, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}

// writeLine appends line to its key's file, opening one when needed.
func (l *Logger) writeLine(k fileKey, line []byte) {
	if l.failed[k] {
		l.dropped.Add(1)
		return
	}
	f := l.files[k]
	if f == nil {
		var err error
		if f, err = l.open(k); err != nil {
			l.failed[k] = true
			l.lastErr = err
			l.dropped.Add(1)
			return
		}
		l.files[k] = f
	}
	if err := f.write(line); err != nil {
		l.fail(k, f, err)
		l.dropped.Add(1)
		return
	}
	l.written.Add(1)
}

// fail abandons k's file after a write error: it is cut back to its last
// whole gzip member, closed, and no line goes to k until the next flush.
// Lines in the member lost are counted as dropped.
func (l *Logger) fail(k fileKey, f *file, err error) {
	l.lastErr = err
	l.dropped.Add(f.pending)
	l.written.Add(^(f.pending - 1)) // subtract: they were counted when written
	f.abandon()
	delete(l.files, k)
	l.failed[k] = true
}

// warn logs, at most once per warnEvery, how many lines were dropped
// since the last warning.
func (l *Logger) warn() {
	d := l.dropped.Load()
	if d == l.warnDrop {
		return
	}
	now := time.Now()
	if !l.warnedAt.IsZero() && now.Sub(l.warnedAt) < warnEvery {
		return
	}
	args := []any{"dir", l.dir, "dropped", d - l.warnDrop, "dropped_total", d}
	if l.lastErr != nil {
		args = append(args, "err", l.lastErr)
	}
	l.log.Warn("access log: lines dropped (backlog full or files not writable); serving goes on", args...)
	l.warnedAt, l.warnDrop, l.lastErr = now, d, nil
}

// FileName returns the name of a log file relative to the log directory:
// CloudFront's <prefix>/<distribution id>.<YYYY-MM-DD-HH>.<unique>.gz
// (a prefix not ending with '/' gets one, as CloudFront adds it), with the
// prefix's "." and ".." segments escaped so that it stays under the
// directory.
func FileName(prefix, distID string, hour time.Time, unique string) string {
	var b strings.Builder
	for seg := range strings.SplitSeq(prefix, "/") {
		switch seg {
		case "":
			continue
		case ".":
			seg = "%2E"
		case "..":
			seg = "%2E%2E"
		}
		b.WriteString(strings.ReplaceAll(seg, "\x00", "%00"))
		b.WriteByte('/')
	}
	b.WriteString(strings.ReplaceAll(distID, "/", "%2F"))
	b.WriteString(hour.UTC().Format(".2006-01-02-15."))
	b.WriteString(unique)
	b.WriteString(".gz")
	return b.String()
}

// uniqueAlphabet is the characters of a file's unique part, as in
// CloudFront's (RT4KCN4SGK9).
const uniqueAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func newUnique() string {
	var raw [11]byte
	_, _ = rand.Read(raw[:])
	for i, c := range raw {
		raw[i] = uniqueAlphabet[int(c)%len(uniqueAlphabet)]
	}
	return string(raw[:])
}

// open creates a new file for k, with the two header lines.
func (l *Logger) open(k fileKey) (*file, error) {
	hour := time.Unix(int64(k.hour)*3600, 0)
	for range 4 {
		name := FileName(k.prefix, k.dist, hour, newUnique())
		if dir := path.Dir(name); dir != "." {
			if err := l.root.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
		}
		fh, err := l.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		f := &file{f: fh, name: name, root: l.root}
		if err := f.write([]byte(Version + "\n" + Fields + "\n")); err != nil {
			f.abandon()
			return nil, err
		}
		f.pending = 0
		return f, nil
	}
	return nil, errors.New("access log: no unique file name")
}

// file is one open log file: gzip members, the last possibly open.
type file struct {
	f       *os.File
	name    string
	root    *os.Root
	bw      *bufio.Writer // between the compressor and the file
	gz      *gzip.Writer  // reused from member to member
	open    bool          // a member is open
	good    int64         // bytes of whole members
	pending uint64        // lines in the open member
}

func (f *file) write(line []byte) error {
	if !f.open {
		if f.gz == nil {
			f.bw = bufio.NewWriterSize(f.f, 64<<10)
			// klauspost/compress's fastest level: the writer must keep
			// up with the hits of every core. It compresses lines as
			// well as the standard library's BestSpeed in less CPU
			// (docs/architecture.md, "Access logs").
			f.gz, _ = gzip.NewWriterLevel(f.bw, gzip.BestSpeed)
		} else {
			f.gz.Reset(f.bw)
		}
		f.open = true
	}
	if _, err := f.gz.Write(line); err != nil {
		return err
	}
	f.pending++
	return nil
}

// endMember closes the open gzip member and writes it out: the file is
// then a whole gzip stream (concatenated members are one).
func (f *file) endMember() error {
	if !f.open {
		return nil
	}
	f.open = false
	if err := f.gz.Close(); err != nil {
		return err
	}
	if err := f.bw.Flush(); err != nil {
		return err
	}
	pos, err := f.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	f.good = pos
	f.pending = 0
	return nil
}

func (f *file) close() error {
	if err := f.endMember(); err != nil {
		return err
	}
	return f.f.Close()
}

// abandon cuts the file back to its whole members (removes it when it has
// none) and closes it.
func (f *file) abandon() {
	f.open = false
	if f.good == 0 {
		_ = f.f.Close()
		_ = f.root.Remove(f.name)
		return
	}
	_ = f.f.Truncate(f.good)
	_ = f.f.Close()
}
