package distribution

import (
	"context"
	"crypto/rand"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openfront/openfront/internal/retry"
)

// Store keeps API-created distributions durably. Implementations live
// under internal/store.
type Store interface {
	// PutDistribution durably creates or replaces d.
	PutDistribution(ctx context.Context, d Distribution) error
	// DeleteDistribution durably removes the distribution and everything
	// stored under it (its invalidations), in one transaction.
	DeleteDistribution(ctx context.Context, id string) error
	// Distributions returns every stored distribution.
	Distributions(ctx context.Context) ([]Distribution, error)
}

// Deployer puts a distribution's configuration into service and returns
// when every edge runs it (identified by its ETag). Only then is the
// distribution Deployed.
type Deployer interface {
	Deploy(ctx context.Context, d Distribution) error
}

// Remover is implemented by Deployers that must hear of deletions.
type Remover interface {
	Remove(ctx context.Context, id string) error
}

// DelayDeployer stands in for edges that are not there: deploying takes
// Delay from LastModified.
type DelayDeployer struct{ Delay time.Duration }

// Deploy waits until d.LastModified + Delay.
func (dd DelayDeployer) Deploy(ctx context.Context, d Distribution) error {
	return retry.Until(ctx, d.LastModified.Add(dd.Delay))
}

// ServiceConfig is what a Service is built from.
type ServiceConfig struct {
	Store    Store
	Deployer Deployer // DelayDeployer{} when nil
	// FromFile are the distributions of the configuration file.
	FromFile []*Distribution
	// DomainSuffix follows "d" + 13 characters in generated domain names.
	DomainSuffix string
	// AccountID is used in ARNs.
	AccountID string
	Logger    *slog.Logger
	Now       func() time.Time
}

// Service applies CloudFront's distribution rules and keeps the registry
// and the store in step. Writes are serialized: they are rare, and the
// uniqueness rules (CallerReference, aliases) are then simple to keep.
type Service struct {
	reg      *Registry
	store    Store
	deployer Deployer
	suffix   string
	account  string
	log      *slog.Logger
	now      func() time.Time

	mu sync.Mutex // serializes writes

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // deploy workers
}

// NewService loads the stored distributions and those of the file.
func NewService(ctx context.Context, c ServiceConfig) (*Service, error) {
	s := &Service{store: c.Store, deployer: c.Deployer, suffix: c.DomainSuffix, account: c.AccountID, log: c.Logger, now: c.Now}
	if s.deployer == nil {
		s.deployer = DelayDeployer{}
	}
	if s.suffix == "" {
		s.suffix = "cloudfront.localhost"
	}
	if s.account == "" {
		s.account = "000000000000"
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.reg = NewRegistry()
	for _, d := range c.FromFile {
		d.FromFile = true
		if d.ARN == "" {
			d.ARN = s.arn(d.ID)
		}
		s.reg.put(d)
	}
	if s.store != nil {
		stored, err := s.store.Distributions(ctx)
		if err != nil {
			return nil, err
		}
		for i := range stored {
			d := stored[i]
			if s.reg.Exists(d.ID) {
				s.log.Warn("a stored distribution has the Id of one in the configuration file; the file's wins", "id", d.ID)
				continue
			}
			s.reg.put(&d)
		}
	}
	return s, nil
}

// Registry returns the index of distributions.
func (s *Service) Registry() *Registry { return s.reg }

// Resume deploys every distribution still InProgress.
func (s *Service) Resume() {
	for _, d := range s.reg.All() {
		if d.Status == InProgress {
			s.deploy(*d)
		}
	}
}

// Close stops deploy work.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

func (s *Service) arn(id string) string {
	return "arn:aws:cloudfront::" + s.account + ":distribution/" + id
}

// Get returns a copy of the distribution named id.
func (s *Service) Get(id string) (Distribution, error) {
	d, ok := s.reg.Get(id)
	if !ok {
		return Distribution{}, ErrNoSuchDistribution
	}
	return *d, nil
}

// List returns up to max distributions ordered by Id, after marker, and
// the marker of the next page ("" when none).
func (s *Service) List(marker string, max int) ([]Distribution, string) {
	var out []Distribution
	all := s.reg.All()
	for i, d := range all {
		if marker != "" && d.ID <= marker {
			continue
		}
		if len(out) == max {
			return out, all[i-1].ID
		}
		out = append(out, *d)
	}
	return out, ""
}

// Create makes a new distribution from cfg (raw is its full document).
func (s *Service) Create(ctx context.Context, ref string, cfg Config, raw []byte, tags []Tag) (Distribution, error) {
	if ref == "" {
		return Distribution{}, newError(CodeInvalidArgument, "The parameter CallerReference is required.")
	}
	if err := s.validate(cfg, ""); err != nil {
		return Distribution{}, err
	}
	if err := validateTags(tags); err != nil {
		return Distribution{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reg.findRef(ref) != nil {
		return Distribution{}, newError(CodeDistributionAlreadyExists, "The caller reference that you are using to create a distribution is associated with another distribution.")
	}
	if err := s.checkAliases(cfg, ""); err != nil {
		return Distribution{}, err
	}
	id := "E" + random(13, upper)
	for s.reg.Exists(id) {
		id = "E" + random(13, upper)
	}
	d := Distribution{
		ID:              id,
		ARN:             s.arn(id),
		Domain:          "d" + random(13, lower) + "." + s.suffix,
		ETag:            "E" + random(13, upper),
		Status:          InProgress,
		LastModified:    s.now().UTC().Truncate(time.Millisecond),
		CallerReference: ref,
		Config:          cfg,
		RawConfig:       raw,
		Tags:            tags,
	}
	if err := s.store.PutDistribution(ctx, d); err != nil {
		return Distribution{}, err
	}
	s.reg.put(&d)
	s.deploy(d)
	return d, nil
}

// Update replaces the configuration of the distribution named id, whose
// current ETag the client must send as ifMatch.
func (s *Service) Update(ctx context.Context, id, ifMatch, ref string, cfg Config, raw []byte) (Distribution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.writable(id, ifMatch, CodeIllegalUpdate)
	if err != nil {
		return Distribution{}, err
	}
	if ref != cur.CallerReference {
		return Distribution{}, newError(CodeIllegalUpdate, "The CallerReference of a distribution can't be changed: it is %q.", cur.CallerReference)
	}
	if err := s.validate(cfg, id); err != nil {
		return Distribution{}, err
	}
	if err := s.checkAliases(cfg, id); err != nil {
		return Distribution{}, err
	}
	d := cur
	d.Config, d.RawConfig = cfg, raw
	d.ETag = "E" + random(13, upper)
	d.Status = InProgress
	d.LastModified = s.now().UTC().Truncate(time.Millisecond)
	if err := s.store.PutDistribution(ctx, d); err != nil {
		return Distribution{}, err
	}
	s.reg.put(&d)
	s.deploy(d)
	return d, nil
}

// Delete removes a disabled distribution and its invalidations.
func (s *Service) Delete(ctx context.Context, id, ifMatch string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.writable(id, ifMatch, CodeIllegalDelete)
	if err != nil {
		return err
	}
	// CloudFront deletes only a distribution whose disabling is deployed.
	if cur.Config.Enabled || cur.Status != Deployed {
		return newError(CodeDistributionNotDisabled, "The distribution you are trying to delete has not been disabled.")
	}
	// Wait for invalidations being written for it, and keep new ones out.
	l := s.reg.lease(id)
	l.Lock()
	defer l.Unlock()
	if err := s.store.DeleteDistribution(ctx, id); err != nil {
		return err
	}
	s.reg.remove(id)
	if rm, ok := s.deployer.(Remover); ok {
		if err := rm.Remove(ctx, id); err != nil {
			// The deletion is durable; edges serve the deleted distribution
			// until they hear of it, as CloudFront's do for a while.
			s.log.Warn("telling edges of a deleted distribution failed", "id", id, "err", err)
		}
	}
	return nil
}

// writable returns the distribution the API may change, checking If-Match.
func (s *Service) writable(id, ifMatch, fileCode string) (Distribution, error) {
	p, ok := s.reg.Get(id)
	if !ok {
		return Distribution{}, ErrNoSuchDistribution
	}
	if ifMatch == "" {
		return Distribution{}, newError(CodeInvalidIfMatchVersion, "The If-Match version is missing or not valid for the resource.")
	}
	if p.FromFile {
		return Distribution{}, newError(fileCode, "Distribution %s is declared in openfront's configuration file; change it there and restart.", id)
	}
	if ifMatch != p.ETag {
		return Distribution{}, newError(CodePreconditionFailed, "The precondition given in one or more of the request-header fields evaluated to false.")
	}
	return *p, nil
}

// deploy brings d into service in the background, then marks it Deployed
// unless it changed meanwhile.
func (s *Service) deploy(d Distribution) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		retry.Forever(s.ctx, func() error {
			err := s.deployer.Deploy(s.ctx, d)
			if err == nil {
				err = s.markDeployed(d.ID, d.ETag)
			}
			return err
		}, func(err error) {
			s.log.Warn("deploying distribution failed; retrying", "id", d.ID, "err", err)
		})
	}()
}

func (s *Service) markDeployed(id, etag string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.reg.Get(id)
	if !ok || p.ETag != etag || p.Status == Deployed {
		return nil // deleted or changed since: a later deploy owns it
	}
	d := *p
	d.Status = Deployed
	if !d.FromFile {
		if err := s.store.PutDistribution(s.ctx, d); err != nil {
			return err
		}
	}
	s.reg.put(&d)
	return nil
}

// DistributionForARN returns the Id named by a distribution ARN.
func (s *Service) idFromARN(arn string) (string, error) {
	id, ok := strings.CutPrefix(arn, "arn:aws:cloudfront::"+s.account+":distribution/")
	if !ok || id == "" {
		return "", newError(CodeInvalidArgument, "The resource %q is not the ARN of a distribution of account %s.", arn, s.account)
	}
	if !s.reg.Exists(id) {
		return "", newError(CodeNoSuchResource, "The specified resource does not exist.")
	}
	return id, nil
}

// Tags returns the tags of the distribution named by arn.
func (s *Service) Tags(arn string) ([]Tag, error) {
	id, err := s.idFromARN(arn)
	if err != nil {
		return nil, err
	}
	d, _ := s.reg.Get(id)
	return slices.Clone(d.Tags), nil
}

// Tag adds or replaces tags on the distribution named by arn.
func (s *Service) Tag(ctx context.Context, arn string, tags []Tag) error {
	if err := validateTags(tags); err != nil {
		return err
	}
	return s.retag(ctx, arn, func(cur []Tag) []Tag {
		for _, t := range tags {
			i := slices.IndexFunc(cur, func(c Tag) bool { return c.Key == t.Key })
			if i >= 0 {
				cur[i] = t
			} else {
				cur = append(cur, t)
			}
		}
		return cur
	})
}

// Untag removes the tags with the given keys.
func (s *Service) Untag(ctx context.Context, arn string, keys []string) error {
	return s.retag(ctx, arn, func(cur []Tag) []Tag {
		return slices.DeleteFunc(cur, func(t Tag) bool { return slices.Contains(keys, t.Key) })
	})
}

func (s *Service) retag(ctx context.Context, arn string, change func([]Tag) []Tag) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.idFromARN(arn)
	if err != nil {
		return err
	}
	p, _ := s.reg.Get(id)
	if p.FromFile {
		return newError(CodeIllegalUpdate, "Distribution %s is declared in openfront's configuration file; tags can't be changed through the API.", id)
	}
	d := *p
	d.Tags = change(slices.Clone(d.Tags))
	if len(d.Tags) > 50 {
		return newError(CodeInvalidTagging, "A resource can have at most 50 tags.")
	}
	if err := s.store.PutDistribution(ctx, d); err != nil {
		return err
	}
	s.reg.put(&d)
	return nil
}

// checkAliases refuses aliases another distribution holds.
func (s *Service) checkAliases(c Config, self string) error {
	for _, a := range c.Aliases {
		if owner := s.reg.aliasOwner(strings.TrimSuffix(a, ".")); owner != "" && owner != self {
			return newError(CodeCNAMEAlreadyExists, "One or more of the CNAMEs you provided are already associated with a different resource.")
		}
	}
	return nil
}

const (
	upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lower = "abcdefghijklmnopqrstuvwxyz0123456789"
)

func random(n int, alphabet string) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
