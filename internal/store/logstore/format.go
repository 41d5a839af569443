package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"
)

// The file format.
//
//	file   = header frame*
//	header = magic "OFRNTLOG" (8) | version u32 | reserved u32 (0) | idkey (16) | crc u32
//	frame  = length u32 | crc u32 | payload (length bytes, 1 ≤ length ≤ maxFrame)
//
// Integers in headers are little endian; crc is CRC-32C (Castagnoli): of
// the 32 header bytes before it, and of a frame's length bytes followed by
// its payload. A frame is what one group commit wrote with one write and
// one fdatasync: it is there whole or, after a crash during that write, it
// is the torn tail that recovery cuts off. Its payload is a sequence of
// records, each a type byte and its fields:
//
//	create    seq | flags | dist | [id] | ref | created | n | path×n | [completed] | [event pos | [key] | [data]]
//	complete  seq | completed
//	putdist   dist | JSON of distribution.Distribution
//	deldist   dist
//	event     pos | key | data
//	trim      before
//	edges     n | (name | data)×n                     (the whole registry; read, no longer written)
//	counters  last seq | last event position          (written by compaction)
//	eventkey  pos | key                               (a trimmed event's key, by compaction)
//	putedge   name | data                             (one edge's registry entry, inserted or replaced)
//	deledge   name
//	putres    kind | id | name | etag | modified | flags | config | raw | n | (kind | id)×n
//	delres    kind | id
//
// Numbers are uvarints, strings and byte strings a uvarint length and the
// bytes, times a varint of Unix seconds and a uvarint of nanoseconds. The
// create flags say whether the Id is derived from seq (else it follows), the
// invalidation is completed (its completion time follows the paths), a
// fleet event was logged with it, the event's key is not the derived
// "inv/<dist>/<id>" (so it follows), and the event's data was trimmed away.
// A putres record holds a whole resource.Resource (its Refs the n pairs at
// the end); its flags say whether it is Managed. A putdist or putres
// record replaces what an earlier one of the same Id (and kind) held.
const (
	magic         = "OFRNTLOG"
	formatVersion = 1
	headerSize    = 8 + 4 + 4 + 16 + 4
	frameHeader   = 8
	maxFrame      = 1 << 30
)

// Record types.
const (
	recCreate   = 1
	recComplete = 2
	recPutDist  = 3
	recDelDist  = 4
	recEvent    = 5
	recTrim     = 6
	recEdges    = 7
	recCounters = 8
	recEventKey = 9
	recPutEdge  = 10
	recDelEdge  = 11
	recPutRes   = 12
	recDelRes   = 13
)

// Resource (putres) flags.
const resFlagManaged = 1 << 0

// Create flags.
const (
	flagOwnID       = 1 << 0 // the Id is not derived from seq; it follows
	flagCompleted   = 1 << 1
	flagEvent       = 1 << 2
	flagEventKey    = 1 << 3 // the event key is not inv/<dist>/<id>; it follows
	flagEventNoData = 1 << 4 // the event was trimmed: position (and key) only
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errFutureVersion is wrapped by the error Open returns for a file written
// by a newer openfront.
var errFutureVersion = errors.New("written by a newer openfront")

func encodeHeader(idKey [16]byte) []byte {
	h := make([]byte, headerSize)
	copy(h, magic)
	binary.LittleEndian.PutUint32(h[8:], formatVersion)
	copy(h[16:32], idKey[:])
	binary.LittleEndian.PutUint32(h[32:], crc32.Checksum(h[:32], castagnoli))
	return h
}

// parseHeader checks the header of a log file and returns its Id key.
func parseHeader(h []byte) (key [16]byte, err error) {
	if len(h) < headerSize {
		return key, fmt.Errorf("header is %d bytes, shorter than %d: not an openfront log (or truncated before it was ever used)", len(h), headerSize)
	}
	if string(h[:8]) != magic {
		return key, fmt.Errorf("not an openfront log (magic %q)", h[:8])
	}
	if crc32.Checksum(h[:32], castagnoli) != binary.LittleEndian.Uint32(h[32:]) {
		return key, errors.New("header checksum mismatch: the file is corrupt")
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != formatVersion {
		if v > formatVersion {
			return key, fmt.Errorf("format version %d, %w (this binary reads version %d); upgrade openfront", v, errFutureVersion, formatVersion)
		}
		return key, fmt.Errorf("unknown format version %d", v)
	}
	copy(key[:], h[16:32])
	return key, nil
}

// sealFrame fills in the frame header reserved at the start of buf, whose
// payload is buf[frameHeader:].
func sealFrame(buf []byte) {
	n := len(buf) - frameHeader
	binary.LittleEndian.PutUint32(buf[0:4], uint32(n))
	crc := crc32.Update(0, castagnoli, buf[0:4])
	crc = crc32.Update(crc, castagnoli, buf[frameHeader:])
	binary.LittleEndian.PutUint32(buf[4:8], crc)
}

// frameAt returns the payload of the frame at data[off:] and the offset
// after it; ok is false when no whole, intact frame starts there.
func frameAt(data []byte, off int) (payload []byte, next int, ok bool) {
	n := frameLen(data, off)
	if n == 0 {
		return nil, 0, false
	}
	crc := crc32.Update(0, castagnoli, data[off:off+4])
	payload = data[off+frameHeader : off+frameHeader+n]
	if crc32.Update(crc, castagnoli, payload) != binary.LittleEndian.Uint32(data[off+4:]) {
		return nil, 0, false
	}
	return payload, off + frameHeader + n, true
}

// frameLen returns the payload length the frame header at data[off:]
// claims, or 0 if there is no header there or the length is 0, over
// maxFrame or past the end of data: what frameAt checks before the
// checksum.
func frameLen(data []byte, off int) int {
	if len(data)-off < frameHeader {
		return 0
	}
	n := int(binary.LittleEndian.Uint32(data[off:]))
	if n > maxFrame || n > len(data)-off-frameHeader {
		return 0
	}
	return n
}

// errTailTooDamaged is intactFrameAfter's answer when the damage is too
// long to search for intact frames: not what a crash leaves.
var errTailTooDamaged = errors.New("too long a damaged stretch to search for intact frames after it (not a torn write from a crash)")

// intactFrameAfter returns the offset of the first intact frame after off
// (whose frame is damaged), or -1 if there is none.
//
// A frame may start at any offset, so every offset whose first four bytes
// read as a length that fits is checksummed over that length. After a
// torn write (the last frame cut short, then zeros, or a few MiB of
// stale blocks on a filesystem that writes metadata before data) that is
// at most a few GiB of checksumming. Over a long stretch of garbage it
// grows with the cube of the stretch (BenchmarkIntactFrameAfter times
// it). So it stops after scanBudget bytes with
// errTailTooDamaged, and Open refuses to open rather than hang.
func intactFrameAfter(data []byte, off int) (int, error) {
	budget := scanBudget
	for o := off + 1; o+frameHeader <= len(data); o++ {
		n := frameLen(data, o)
		if n == 0 {
			continue
		}
		if budget -= int64(n); budget < 0 {
			return -1, errTailTooDamaged
		}
		if _, _, ok := frameAt(data, o); ok {
			return o, nil
		}
	}
	return -1, nil
}

// scanBudget is how many bytes intactFrameAfter checksums at most; tests
// lower it.
var scanBudget int64 = 256 << 30

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// decoder reads the fields of records; the first malformed field sets err
// and every later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("record ends early")

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail(errShort)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errors.New("bad number"))
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errors.New("bad number"))
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 || nsec > math.MaxInt64 {
		d.fail(errors.New("bad time"))
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}
