package fleet

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/openfront/openfront/internal/invalidation"
)

// An invalidation's event is logged once per CreateInvalidation and read
// by every edge, so its JSON is written and read by hand here instead of
// through encoding/json's reflection (which also grew the stack of each
// completion goroutine). Both sides take only the plain form — strings of
// printable ASCII without '"', '\\', '<', '>' or '&', times MarshalJSON
// accepts — and leave everything else to encoding/json, so the bytes and
// the decoded values are always encoding/json's; TestInvalidationCodec*
// compare them.

// encodeInvalidationEvent returns json.Marshal(Event{Kind:
// KindInvalidation, Invalidation: &inv}).
func encodeInvalidationEvent(inv *invalidation.Invalidation) ([]byte, error) {
	if data, ok := appendInvalidationEvent(make([]byte, 0, 192+32*len(inv.Batch.Paths)), inv); ok {
		return data, nil
	}
	return json.Marshal(Event{Kind: KindInvalidation, Invalidation: inv})
}

func appendInvalidationEvent(b []byte, inv *invalidation.Invalidation) ([]byte, bool) {
	if !plain(inv.DistributionID) || !plain(inv.ID) || !plain(string(inv.Status)) || !plain(inv.Batch.CallerReference) {
		return nil, false
	}
	for _, p := range inv.Batch.Paths {
		if !plain(p) {
			return nil, false
		}
	}
	var ok bool
	b = append(b, `{"kind":"invalidation","inv":{"dist":"`...)
	b = append(b, inv.DistributionID...)
	b = append(b, `","id":"`...)
	b = append(b, inv.ID...)
	b = append(b, `","status":"`...)
	b = append(b, inv.Status...)
	b = append(b, `","created":`...)
	if b, ok = appendTime(b, inv.CreateTime); !ok {
		return nil, false
	}
	b = append(b, `,"batch":{"ref":"`...)
	b = append(b, inv.Batch.CallerReference...)
	b = append(b, `","paths":`...)
	if inv.Batch.Paths == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range inv.Batch.Paths {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, p...)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	if !inv.CompleteTime.IsZero() {
		b = append(b, `,"completed":`...)
		if b, ok = appendTime(b, inv.CompleteTime); !ok {
			return nil, false
		}
	}
	return append(b, "}}"...), true
}

// appendTime appends t as encoding/json writes it (its MarshalJSON).
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	j, err := t.MarshalJSON()
	if err != nil {
		return nil, false
	}
	return append(b, j...), true
}

// plain reports whether encoding/json writes s as itself between quotes,
// and reads it back as itself.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// decodeInvalidationEvent reads what appendInvalidationEvent writes into
// ev, exactly as json.Unmarshal would; ok is false for anything else
// (then use json.Unmarshal).
func decodeInvalidationEvent(data []byte, ev *Event) (ok bool) {
	d := invDecoder{b: data}
	var inv invalidation.Invalidation
	var status string
	if !d.lit(`{"kind":"invalidation","inv":{"dist":`) || !d.str(&inv.DistributionID) ||
		!d.lit(`,"id":`) || !d.str(&inv.ID) ||
		!d.lit(`,"status":`) || !d.str(&status) ||
		!d.lit(`,"created":`) || !d.time(&inv.CreateTime) ||
		!d.lit(`,"batch":{"ref":`) || !d.str(&inv.Batch.CallerReference) ||
		!d.lit(`,"paths":`) {
		return false
	}
	inv.Status = invalidation.Status(status)
	if !d.lit("null") {
		if !d.lit("[") {
			return false
		}
		inv.Batch.Paths = []string{}
		if !d.lit("]") {
			for {
				var p string
				if !d.str(&p) {
					return false
				}
				inv.Batch.Paths = append(inv.Batch.Paths, p)
				if d.lit("]") {
					break
				}
				if !d.lit(",") {
					return false
				}
			}
		}
	}
	if !d.lit("}") {
		return false
	}
	if d.lit(`,"completed":`) && !d.time(&inv.CompleteTime) {
		return false
	}
	if !d.lit("}}") || d.i != len(d.b) {
		return false
	}
	*ev = Event{Kind: KindInvalidation, Invalidation: &inv}
	return true
}

type invDecoder struct {
	b []byte
	i int
}

func (d *invDecoder) lit(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// str reads a quoted plain string.
func (d *invDecoder) str(s *string) bool {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return false
	}
	end := bytes.IndexByte(d.b[d.i+1:], '"')
	if end < 0 {
		return false
	}
	v := d.b[d.i+1 : d.i+1+end]
	for _, c := range v {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	*s = string(v)
	d.i += end + 2
	return true
}

// time reads a quoted time as (*time.Time).UnmarshalJSON does.
func (d *invDecoder) time(t *time.Time) bool {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return false
	}
	end := bytes.IndexByte(d.b[d.i+1:], '"')
	if end < 0 {
		return false
	}
	q := d.b[d.i : d.i+end+2]
	for _, c := range q[1 : len(q)-1] {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	if t.UnmarshalJSON(q) != nil {
		return false
	}
	d.i += len(q)
	return true
}
