package resource

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Error is a rule violation named by CloudFront's error code.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error codes every kind shares.
const (
	CodeInvalidIfMatchVersion = "InvalidIfMatchVersion"
	CodePreconditionFailed    = "PreconditionFailed"
	CodeIllegalUpdate         = "IllegalUpdate"
	CodeIllegalDelete         = "IllegalDelete"
	CodeInvalidArgument       = "InvalidArgument"
)

// Rules are what differs between kinds: CloudFront's error codes and
// messages, the shape of Ids and the account's quota.
type Rules struct {
	Kind Kind
	// NoSuch, AlreadyExists and InUse are the kind's error codes (e.g.
	// NoSuchCachePolicy, CachePolicyAlreadyExists, CachePolicyInUse), with
	// their messages.
	NoSuch, NoSuchMessage               string
	AlreadyExists, AlreadyExistsMessage string
	InUse, InUseMessage                 string
	// TooMany is the code (and message) past Max resources of the kind
	// that are not managed; Max 0 means no quota.
	TooMany, TooManyMessage string
	Max                     int
	// NewID returns a fresh Id; NewETag a fresh ETag (RandomID(14) for
	// both when nil).
	NewID, NewETag func() string
	// IdempotentName makes a create whose Name is taken by a resource
	// with the same Raw document return that one (created == false), as
	// CloudFront does for origin access identities' CallerReference.
	IdempotentName bool
	// IDIsName makes a resource's Id its Name (functions): Create takes no
	// fresh Id, and a taken Id is AlreadyExists.
	IDIsName bool
	// MissingRef, when not nil, is the error code and message of a write
	// naming a resource (one of Refs) that does not exist; InvalidArgument
	// otherwise.
	MissingRef func(ref Ref) (code, message string)
	// IfMatchETag, when not nil, is the version of r a client's If-Match
	// must name, for a kind whose Resource.ETag is not the version
	// clients see (functions: the DEVELOPMENT stage's ETag in Config,
	// while Resource.ETag changes on every write, as edges need).
	IfMatchETag func(r Resource) string
}

// Config is what a Service is built from.
type Config struct {
	Store     Store
	Publisher Publisher // nil: changes are not published
	Rules     Rules
	Logger    *slog.Logger
	Now       func() time.Time
}

// Service applies the rules every kind shares on top of a Store: fresh
// Ids and ETags, If-Match, managed resources read-only, the quota, and
// publishing each change to edges. The store enforces uniqueness,
// references and compare-and-swap, so several services (replicas) may
// share one store.
type Service struct {
	store Store
	pub   Publisher
	rules Rules
	log   *slog.Logger
	now   func() time.Time
}

// NewService returns a Service for one kind.
func NewService(c Config) *Service {
	s := &Service{store: c.Store, pub: c.Publisher, rules: c.Rules, log: c.Logger, now: c.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rules.NewID == nil {
		s.rules.NewID = func() string { return "E" + RandomID(13) }
	}
	if s.rules.NewETag == nil {
		s.rules.NewETag = func() string { return "E" + RandomID(13) }
	}
	return s
}

// Kind is the kind the service keeps.
func (s *Service) Kind() Kind { return s.rules.Kind }

func (s *Service) noSuch() error { return newError(s.rules.NoSuch, "%s", s.rules.NoSuchMessage) }

// Create stores a new resource from r's Name, Config, Raw and Refs,
// giving it an Id (its Name when the kind is IDIsName), an ETag (unless
// r has one: a kind that keeps versions in Config chooses it) and
// LastModified. created is false when the kind is IdempotentName and an
// identical one existed; that one is returned.
func (s *Service) Create(ctx context.Context, r Resource) (got Resource, created bool, err error) {
	var admit func(int) error
	if s.rules.Max > 0 {
		admit = func(n int) error {
			if n >= s.rules.Max {
				return newError(s.rules.TooMany, "%s", s.rules.TooManyMessage)
			}
			return nil
		}
	}
	r.Kind, r.Managed = s.rules.Kind, false
	if r.ETag == "" {
		r.ETag = s.rules.NewETag()
	}
	r.LastModified = s.now().UTC().Truncate(time.Millisecond)
	for {
		if s.rules.IDIsName {
			r.ID = r.Name
		} else {
			r.ID = s.rules.NewID()
		}
		existing, err := s.store.CreateResource(ctx, r, admit)
		switch {
		case errors.Is(err, ErrIDTaken) && s.rules.IDIsName:
			return Resource{}, false, newError(s.rules.AlreadyExists, "%s", s.rules.AlreadyExistsMessage)
		case errors.Is(err, ErrIDTaken):
			continue
		case errors.Is(err, ErrNameTaken):
			if s.rules.IdempotentName && string(existing.Raw) == string(r.Raw) {
				return existing, false, nil
			}
			return Resource{}, false, newError(s.rules.AlreadyExists, "%s", s.rules.AlreadyExistsMessage)
		case err != nil:
			return Resource{}, false, s.storeError(err)
		}
		s.publish(ctx, r)
		return r, true, nil
	}
}

// Get returns the resource with Id id.
func (s *Service) Get(ctx context.Context, id string) (Resource, error) {
	r, err := s.store.GetResource(ctx, s.rules.Kind, id)
	if errors.Is(err, ErrNotFound) {
		return Resource{}, s.noSuch()
	}
	return r, err
}

// List returns every resource of the kind, ordered by Id.
func (s *Service) List(ctx context.Context) ([]Resource, error) {
	return s.store.Resources(ctx, s.rules.Kind)
}

// Update replaces the resource whose current ETag is ifMatch with what
// change makes of it (its Name, Config, Raw and Refs), under a new ETag.
// change runs inside the store's write; its error is returned.
func (s *Service) Update(ctx context.Context, id, ifMatch string, change func(r *Resource) error) (Resource, error) {
	if ifMatch == "" {
		return Resource{}, newError(CodeInvalidIfMatchVersion, "The If-Match version is missing or not valid for the resource.")
	}
	r, err := s.store.UpdateResource(ctx, s.rules.Kind, id, func(r *Resource) error {
		if r.Managed {
			return newError(CodeIllegalUpdate, "%s %s is managed by AWS and can't be changed.", s.rules.Kind, id)
		}
		if s.ifMatchETag(*r) != ifMatch {
			return newError(CodePreconditionFailed, "The precondition given in one or more of the request-header fields evaluated to false.")
		}
		if err := change(r); err != nil {
			return err
		}
		r.ETag = s.rules.NewETag()
		r.LastModified = s.now().UTC().Truncate(time.Millisecond)
		return nil
	})
	if err != nil {
		return Resource{}, s.storeError(err)
	}
	s.publish(ctx, r)
	return r, nil
}

// Modify is Update for a kind that keeps its versions in Config (a
// function has one ETag per stage): change, inside the store's write,
// checks the client's If-Match itself and sets LastModified along with
// the rest; the resource gets a new ETag (its version for edges).
// Managed resources are refused. The store's errors are the kind's, as
// for Update.
func (s *Service) Modify(ctx context.Context, id string, change func(r *Resource) error) (Resource, error) {
	r, err := s.store.UpdateResource(ctx, s.rules.Kind, id, func(r *Resource) error {
		if r.Managed {
			return newError(CodeIllegalUpdate, "%s %s is managed by AWS and can't be changed.", s.rules.Kind, id)
		}
		if err := change(r); err != nil {
			return err
		}
		r.ETag = s.rules.NewETag()
		return nil
	})
	if err != nil {
		return Resource{}, s.storeError(err)
	}
	s.publish(ctx, r)
	return r, nil
}

// Delete removes the resource whose current ETag is ifMatch, unless a
// distribution or another resource refers to it.
func (s *Service) Delete(ctx context.Context, id, ifMatch string) error {
	if ifMatch == "" {
		return newError(CodeInvalidIfMatchVersion, "The If-Match version is missing or not valid for the resource.")
	}
	err := s.store.DeleteResource(ctx, s.rules.Kind, id, func(r Resource) error {
		if r.Managed {
			return newError(CodeIllegalDelete, "%s %s is managed by AWS and can't be deleted.", s.rules.Kind, id)
		}
		if s.ifMatchETag(r) != ifMatch {
			return newError(CodePreconditionFailed, "The precondition given in one or more of the request-header fields evaluated to false.")
		}
		return nil
	})
	if err != nil {
		return s.storeError(err)
	}
	if s.pub != nil {
		if err := s.pub.RemoveResource(ctx, s.rules.Kind, id); err != nil {
			// The deletion is durable; nothing refers to the resource, so
			// an edge that keeps it a while never uses it.
			s.log.Warn("telling edges of a deleted resource failed", "kind", s.rules.Kind, "id", id, "err", err)
		}
	}
	return nil
}

func (s *Service) ifMatchETag(r Resource) string {
	if s.rules.IfMatchETag != nil {
		return s.rules.IfMatchETag(r)
	}
	return r.ETag
}

func (s *Service) storeError(err error) error {
	var mre *MissingRefError
	switch {
	case errors.Is(err, ErrNotFound):
		return s.noSuch()
	case errors.Is(err, ErrNameTaken):
		return newError(s.rules.AlreadyExists, "%s", s.rules.AlreadyExistsMessage)
	case errors.Is(err, ErrInUse):
		return newError(s.rules.InUse, "%s", s.rules.InUseMessage)
	case errors.As(err, &mre) && s.rules.MissingRef != nil:
		code, msg := s.rules.MissingRef(mre.Ref)
		return newError(code, "%s", msg)
	case errors.As(err, &mre):
		return newError(CodeInvalidArgument, "The %s %s does not exist.", strings.ReplaceAll(string(mre.Ref.Kind), "-", " "), mre.Ref.ID)
	}
	return err
}

// EnsureManaged stores the managed resources of the kind as given (their
// Ids fixed by AWS), replacing stored versions that differ, so that
// distributions may refer to them like to any other. Run at start-up.
func (s *Service) EnsureManaged(ctx context.Context, managed []Resource) error {
	for _, m := range managed {
		m.Kind, m.Managed = s.rules.Kind, true
		if m.LastModified.IsZero() {
			m.LastModified = s.now().UTC().Truncate(time.Millisecond)
		}
		if m.ETag == "" {
			m.ETag = s.rules.NewETag()
		}
		_, err := s.store.CreateResource(ctx, m, nil)
		if errors.Is(err, ErrIDTaken) || errors.Is(err, ErrNameTaken) {
			_, err = s.store.UpdateResource(ctx, s.rules.Kind, m.ID, func(r *Resource) error {
				if r.Managed && r.Name == m.Name && string(r.Config) == string(m.Config) && string(r.Raw) == string(m.Raw) {
					m = *r
					return errUnchanged
				}
				*r = m
				return nil
			})
			if errors.Is(err, errUnchanged) {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("storing managed %s %s (%s): %w", s.rules.Kind, m.ID, m.Name, err)
		}
	}
	return nil
}

var errUnchanged = errors.New("unchanged")

// Resume publishes every resource of the kind again, so that edges have
// the changes a stop between a write and its publishing left unsaid.
func (s *Service) Resume(ctx context.Context) error {
	if s.pub == nil {
		return nil
	}
	all, err := s.store.Resources(ctx, s.rules.Kind)
	if err != nil {
		return err
	}
	for _, r := range all {
		if err := s.pub.PublishResource(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) publish(ctx context.Context, r Resource) {
	if s.pub == nil {
		return
	}
	if err := s.pub.PublishResource(ctx, r); err != nil {
		// The change is durable; Resume publishes it at the next start.
		s.log.Warn("telling edges of a changed resource failed", "kind", r.Kind, "id", r.ID, "err", err)
	}
}

// RandomID returns n characters of A-Z0-9, as CloudFront's Ids.
func RandomID(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// UUID returns a random (version 4) UUID, the shape of policy Ids.
func UUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
