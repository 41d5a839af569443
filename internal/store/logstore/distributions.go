package logstore

import (
	"context"
	"encoding/binary"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/catalog"
)

// Distributions and resources are kept in s.cat, which checks their rules
// under s.mu; each write that passes them appends its record to the open
// batch and returns once the batch is on disk. A write made on top of one
// still in flight fails with it if that one fails (recoverFrom). A
// refusal is an answer too: it is given only once the writes it rests on
// are on disk (see catalogWrite).

// catalogWrite runs op under s.mu. op checks the rules on s.cat, and on
// success changes it and returns buf with its record appended; on error
// it has changed nothing. When op refuses while a write to the catalog is
// still in flight, the refusal may rest on that write, which may yet
// fail: catalogWrite waits for it, and runs op again if it failed (so
// change and check functions may run more than once; the last run
// decides).
func (s *Store) catalogWrite(op func(buf []byte) ([]byte, error)) error {
	s.mu.Lock()
	for {
		if err := s.writable(); err != nil {
			s.mu.Unlock()
			return err
		}
		b := s.open
		buf, err := op(b.buf)
		if err == nil {
			b.buf = buf
			s.stamp()
			s.distsEpoch = b.epoch
			s.mu.Unlock()
			return b.wait()
		}
		// The state op saw is that of the writes up to s.distsEpoch
		// (each was kicked when stamped): once they are on disk, so is
		// what the refusal rests on. If they fail, memory is put back to
		// what the log holds and op runs again on that.
		pending := s.batchOf(s.distsEpoch)
		s.mu.Unlock()
		if pending == nil {
			return err
		}
		s.catalogWaits.Add(1)
		werr := pending.wait()
		s.catalogWaits.Add(-1)
		if werr == nil {
			return err
		}
		s.mu.Lock()
	}
}

// CreateDistribution implements distribution.Store.
func (s *Store) CreateDistribution(ctx context.Context, d distribution.Distribution) error {
	return s.catalogWrite(func(buf []byte) ([]byte, error) {
		data, err := s.cat.CreateDistribution(d)
		if err != nil {
			return nil, err
		}
		return appendPutDist(buf, d.ID, data), nil
	})
}

// UpdateDistribution implements distribution.Store.
func (s *Store) UpdateDistribution(ctx context.Context, id string, change func(d *distribution.Distribution) error) (distribution.Distribution, error) {
	var out distribution.Distribution
	err := s.catalogWrite(func(buf []byte) ([]byte, error) {
		d, data, err := s.cat.UpdateDistribution(id, change)
		if err != nil {
			return nil, err
		}
		out = d
		return appendPutDist(buf, id, data), nil
	})
	if err != nil {
		return distribution.Distribution{}, err
	}
	return out, nil
}

func appendPutDist(buf []byte, id string, data []byte) []byte {
	buf = append(buf, recPutDist)
	buf = appendString(buf, id)
	return appendBytes(buf, data)
}

// DeleteDistribution implements distribution.Store: the distribution and
// all its invalidations go in one record. Sequence numbers are not reused,
// so a distribution created again under the same Id never gets an Id (or
// fleet event key) of the deleted one's invalidations; the keys of their
// fleet events stay known, so they are never appended again.
func (s *Store) DeleteDistribution(ctx context.Context, id string, check func(d distribution.Distribution) error) error {
	return s.catalogWrite(func(buf []byte) ([]byte, error) {
		if err := s.cat.DeleteDistribution(id, check); err != nil {
			return nil, err
		}
		s.deleteDist(id, s.open.epoch)
		buf = append(buf, recDelDist)
		return appendString(buf, id), nil
	})
}

// deleteDist drops the invalidations of distribution id; epoch is the
// deletion's (0 at replay).
func (s *Store) deleteDist(id string, epoch uint64) {
	if old := s.dists[id]; old != nil {
		for _, r := range old.invs {
			if !r.done {
				delete(s.inProgress, r.seq)
			}
			if r.eventPos != 0 {
				s.keys[invEventKey(id, s.idOf(r))] = keyEntry{r.eventPos, r.createEpoch}
			}
		}
	}
	s.dists[id] = &dist{id: id, byRef: map[string]*rec{}, resetEpoch: epoch}
}

// readCatalog runs read under s.mu once every write to the catalog made
// before it is on disk.
func (s *Store) readCatalog(read func(c *catalog.Catalog) error) error {
	// A write made since the last one seen must be on disk before it is
	// shown.
	if err := s.lockWhenDurable(&s.distsEpoch); err != nil {
		return err
	}
	defer s.mu.Unlock()
	return read(s.cat)
}

// GetDistribution implements distribution.Store.
func (s *Store) GetDistribution(ctx context.Context, id string) (d distribution.Distribution, err error) {
	err = s.readCatalog(func(c *catalog.Catalog) error {
		d, err = c.Distribution(id)
		return err
	})
	return d, err
}

// Distributions implements distribution.Store.
func (s *Store) Distributions(ctx context.Context) (ds []distribution.Distribution, err error) {
	err = s.readCatalog(func(c *catalog.Catalog) error {
		ds, err = c.Distributions()
		return err
	})
	return ds, err
}

// CreateResource implements resource.Store.
func (s *Store) CreateResource(ctx context.Context, r resource.Resource, admit func(int) error) (existing resource.Resource, err error) {
	err = s.catalogWrite(func(buf []byte) ([]byte, error) {
		old, err := s.cat.CreateResource(r, admit)
		if err != nil {
			existing = old
			return nil, err
		}
		return appendPutRes(buf, r), nil
	})
	if err == nil {
		existing = resource.Resource{}
	}
	return existing, err
}

// UpdateResource implements resource.Store.
func (s *Store) UpdateResource(ctx context.Context, kind resource.Kind, id string, change func(r *resource.Resource) error) (resource.Resource, error) {
	var out resource.Resource
	err := s.catalogWrite(func(buf []byte) ([]byte, error) {
		r, err := s.cat.UpdateResource(kind, id, change)
		if err != nil {
			return nil, err
		}
		out = r
		return appendPutRes(buf, r), nil
	})
	if err != nil {
		return resource.Resource{}, err
	}
	return out, nil
}

// DeleteResource implements resource.Store.
func (s *Store) DeleteResource(ctx context.Context, kind resource.Kind, id string, check func(r resource.Resource) error) error {
	return s.catalogWrite(func(buf []byte) ([]byte, error) {
		if err := s.cat.DeleteResource(kind, id, check); err != nil {
			return nil, err
		}
		buf = append(buf, recDelRes)
		buf = appendString(buf, string(kind))
		return appendString(buf, id), nil
	})
}

// GetResource implements resource.Store.
func (s *Store) GetResource(ctx context.Context, kind resource.Kind, id string) (r resource.Resource, err error) {
	err = s.readCatalog(func(c *catalog.Catalog) error {
		r, err = c.Resource(kind, id)
		return err
	})
	return r, err
}

// Resources implements resource.Store.
func (s *Store) Resources(ctx context.Context, kind resource.Kind) (rs []resource.Resource, err error) {
	err = s.readCatalog(func(c *catalog.Catalog) error {
		rs = c.Resources(kind)
		return nil
	})
	return rs, err
}

// appendPutRes appends a putres record of r.
func appendPutRes(buf []byte, r resource.Resource) []byte {
	buf = append(buf, recPutRes)
	buf = appendString(buf, string(r.Kind))
	buf = appendString(buf, r.ID)
	buf = appendString(buf, r.Name)
	buf = appendString(buf, r.ETag)
	buf = appendTime(buf, r.LastModified)
	var flags byte
	if r.Managed {
		flags |= resFlagManaged
	}
	buf = append(buf, flags)
	buf = appendBytes(buf, r.Config)
	buf = appendBytes(buf, r.Raw)
	buf = binary.AppendUvarint(buf, uint64(len(r.Refs)))
	for _, ref := range r.Refs {
		buf = appendString(buf, string(ref.Kind))
		buf = appendString(buf, ref.ID)
	}
	return buf
}

// decodePutRes reads a putres record's fields (after its type); the
// resource shares nothing with d's buffer.
func decodePutRes(d *decoder) resource.Resource {
	var r resource.Resource
	r.Kind = resource.Kind(d.string())
	r.ID = d.string()
	r.Name = d.string()
	r.ETag = d.string()
	r.LastModified = d.time()
	flags := d.byte()
	r.Managed = flags&resFlagManaged != 0
	r.Config = cloneOrNil(d.bytes())
	r.Raw = cloneOrNil(d.bytes())
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return resource.Resource{}
	}
	for range n {
		r.Refs = append(r.Refs, resource.Ref{Kind: resource.Kind(d.string()), ID: d.string()})
	}
	return r
}

func cloneOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
