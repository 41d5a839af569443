package distribution

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/retry"
)

// Store keeps API-created distributions durably and enforces, in the
// write itself, the rules a shared database can enforce with constraints
// and transactions: one distribution per CallerReference, an alias held
// by one distribution at most, references to existing resources, and
// compare-and-swap updates (the If-Match check runs inside the write).
// Every write is on stable storage when it returns nil, and a write that
// fails writes nothing. Callers and the store share no memory: what is
// passed in, handed to change and check, and returned are copies.
// Change and check functions run inside the write (under the store's
// lock, or in its transaction): they must not call the store, and may be
// called more than once (a store retries a write that a failed one in
// flight decided), only the last call deciding; nil means none.
// Implementations live under internal/store;
// storetest.RunDistributions is their conformance suite.
type Store interface {
	// CreateDistribution stores d. It writes nothing and returns
	// ErrIDTaken when a distribution has d.ID, ErrCallerReferenceTaken
	// when one has d.CallerReference, ErrAliasTaken when one holds an
	// alias of d.Config.Aliases (compared by AliasKey), and a
	// *resource.MissingRefError when one of d.Refs does not exist.
	CreateDistribution(ctx context.Context, d Distribution) error
	// UpdateDistribution calls change with a copy of the stored
	// distribution, inside the write, and stores what change leaves in it
	// (ID and CallerReference cannot change: a change that alters them
	// fails the write). An error from change is returned and nothing is
	// written; ErrNotFound for an unknown Id (change is not called);
	// ErrAliasTaken and *resource.MissingRefError as for
	// CreateDistribution.
	UpdateDistribution(ctx context.Context, id string, change func(d *Distribution) error) (Distribution, error)
	// DeleteDistribution calls check with the stored distribution, inside
	// the write, and unless check fails removes the distribution and
	// everything stored under it (its invalidations) in one transaction.
	// ErrNotFound for an unknown Id.
	DeleteDistribution(ctx context.Context, id string, check func(d Distribution) error) error
	// GetDistribution returns one distribution, or ErrNotFound.
	GetDistribution(ctx context.Context, id string) (Distribution, error)
	// Distributions returns every stored distribution, ordered by Id.
	Distributions(ctx context.Context) ([]Distribution, error)
}

// Errors a Store returns; a store wraps none of them.
var (
	// ErrNotFound: no stored distribution has that Id.
	ErrNotFound = errors.New("distribution: not found")
	// ErrIDTaken: a stored distribution has that Id.
	ErrIDTaken = errors.New("distribution: id taken")
	// ErrCallerReferenceTaken: a stored distribution was created with
	// that CallerReference.
	ErrCallerReferenceTaken = errors.New("distribution: caller reference taken")
	// ErrAliasTaken: another stored distribution holds one of the aliases.
	ErrAliasTaken = errors.New("distribution: alias taken")
)

// AliasKey is the form under which aliases are compared: lower case,
// without a final dot.
func AliasKey(alias string) string { return strings.ToLower(strings.TrimSuffix(alias, ".")) }

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
	// Refs returns the stored resources a configuration names (its
	// policies, origin access controls), which become the distribution's
	// Refs: the store refuses a configuration naming one that does not
	// exist, and the deletion of one a distribution names. Nil: none.
	Refs func(Config) []resource.Ref
	// Check, when not nil, checks a configuration against the stored
	// resources it names beyond their existence (FunctionsLive), before
	// a create or update is written.
	Check func(context.Context, Config) error
	// Shared says other processes (control-plane replicas) write the
	// store too: Get reads the store, List and Sync bring the registry in
	// step with it, and Sync deploys what a dead replica left InProgress
	// longer than AdoptAfter.
	Shared     bool
	AdoptAfter time.Duration
}

// Service applies CloudFront's distribution rules and keeps the registry
// in step with the store. The store enforces the rules that span
// distributions (CallerReference and alias uniqueness, references,
// If-Match) inside each write, so writes to different distributions do
// not wait for one another.
type Service struct {
	reg      *Registry
	store    Store
	deployer Deployer
	refs     func(Config) []resource.Ref
	check    func(context.Context, Config) error // nil: none
	suffix   string
	account  string
	log      *slog.Logger
	now      func() time.Time

	// gen numbers writes in the store's order (see publish).
	gen       atomic.Uint64
	pubMu     sync.Mutex
	published map[string]uint64 // Id -> gen of the last write put in the registry; guarded by pubMu

	shared     bool
	adoptAfter time.Duration
	deployMu   sync.Mutex
	deploying  map[string]string // Id -> ETag this process is deploying; guarded by deployMu

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // deploy workers
}

// NewService loads the stored distributions and those of the file.
func NewService(ctx context.Context, c ServiceConfig) (*Service, error) {
	s := &Service{store: c.Store, deployer: c.Deployer, refs: c.Refs, check: c.Check, suffix: c.DomainSuffix, account: c.AccountID,
		log: c.Logger, now: c.Now, published: map[string]uint64{},
		shared: c.Shared, adoptAfter: c.AdoptAfter, deploying: map[string]string{}}
	if s.deployer == nil {
		s.deployer = DelayDeployer{}
	}
	if s.refs == nil {
		s.refs = func(Config) []resource.Ref { return nil }
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

// Get returns a copy of the distribution named id. On a shared store it
// is read from the store, which other replicas write too.
func (s *Service) Get(id string) (Distribution, error) {
	d, ok := s.reg.Get(id)
	if s.shared && s.store != nil && (!ok || !d.FromFile) {
		gen := s.gen.Add(1) // before the read: a local write after it wins
		got, err := s.store.GetDistribution(s.ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			s.publish(gen, id, nil)
			return Distribution{}, ErrNoSuchDistribution
		case err != nil:
			return Distribution{}, err
		}
		s.publish(gen, id, &got)
		return got, nil
	}
	if !ok {
		return Distribution{}, ErrNoSuchDistribution
	}
	return *d, nil
}

// Sync brings the registry in step with the store: the distributions
// other replicas sharing it created, changed or deleted. It also deploys
// those left InProgress longer than AdoptAfter that this process is not
// deploying (their replica may have died; deploying is idempotent). A
// no-op unless the store is Shared.
func (s *Service) Sync(ctx context.Context) error {
	if !s.shared || s.store == nil {
		return nil
	}
	gen := s.gen.Add(1)
	stored, err := s.store.Distributions(ctx)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(stored))
	for i := range stored {
		d := stored[i]
		seen[d.ID] = true
		if cur, ok := s.reg.Get(d.ID); ok && cur.FromFile {
			continue
		}
		s.publish(gen, d.ID, &d)
		if d.Status == InProgress && s.adoptAfter > 0 && s.now().Sub(d.LastModified) > s.adoptAfter {
			s.deployMu.Lock()
			mine := s.deploying[d.ID] == d.ETag
			s.deployMu.Unlock()
			if !mine {
				s.log.Info("deploying a distribution another replica left in progress", "id", d.ID)
				s.deploy(d)
			}
		}
	}
	for _, d := range s.reg.All() {
		if !d.FromFile && !seen[d.ID] {
			s.publish(gen, d.ID, nil)
		}
	}
	return nil
}

// List returns up to max distributions ordered by Id, after marker, and
// the marker of the next page ("" when none).
func (s *Service) List(marker string, max int) ([]Distribution, string) {
	if err := s.Sync(s.ctx); err != nil {
		s.log.Warn("reading the shared store's distributions failed; listing this replica's view", "err", err)
	}
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
	if err := s.checkRefs(ctx, cfg); err != nil {
		return Distribution{}, err
	}
	// The store knows the aliases of stored distributions; those of the
	// file's are the registry's, and never change.
	if err := s.checkFileAliases(cfg); err != nil {
		return Distribution{}, err
	}
	d := Distribution{
		Domain:          "d" + random(13, lower) + "." + s.suffix,
		ETag:            "E" + random(13, upper),
		Status:          InProgress,
		LastModified:    s.now().UTC().Truncate(time.Millisecond),
		CallerReference: ref,
		Config:          cfg,
		RawConfig:       raw,
		Tags:            tags,
		Refs:            s.refs(cfg),
	}
	// Every write to the distribution comes after this one in the store,
	// so its number is lower than theirs.
	gen := s.gen.Add(1)
	for attempt := 0; ; attempt++ {
		d.ID = "E" + random(13, upper)
		d.ARN = s.arn(d.ID)
		if s.reg.Exists(d.ID) {
			continue // a file distribution's
		}
		err := s.store.CreateDistribution(ctx, d)
		if errors.Is(err, ErrIDTaken) && attempt < maxIDAttempts {
			continue
		}
		if err != nil {
			return Distribution{}, storeError(err)
		}
		break
	}
	s.publish(gen, d.ID, &d)
	s.deploy(d)
	return d, nil
}

// checkRefs runs ServiceConfig.Check on cfg.
func (s *Service) checkRefs(ctx context.Context, cfg Config) error {
	if s.check == nil {
		return nil
	}
	return s.check(ctx, cfg)
}

// maxIDAttempts bounds how many random Ids Create tries: 36^13 of them
// make a second attempt unlikely already.
const maxIDAttempts = 8

// Update replaces the configuration of the distribution named id, whose
// current ETag the client must send as ifMatch. The If-Match check runs
// inside the store's write.
func (s *Service) Update(ctx context.Context, id, ifMatch, ref string, cfg Config, raw []byte) (Distribution, error) {
	if err := s.apiWritable(id, ifMatch, CodeIllegalUpdate); err != nil {
		return Distribution{}, err
	}
	refs := s.refs(cfg)
	if err := s.checkRefs(ctx, cfg); err != nil {
		return Distribution{}, err
	}
	var gen uint64
	d, err := s.store.UpdateDistribution(ctx, id, func(d *Distribution) error {
		if d.FromFile {
			return newError(CodeIllegalUpdate, "Distribution %s is declared in openfront's configuration file; change it there and restart.", id)
		}
		if ifMatch != d.ETag {
			return errPreconditionFailed()
		}
		if ref != d.CallerReference {
			return newError(CodeIllegalUpdate, "The CallerReference of a distribution can't be changed: it is %q.", d.CallerReference)
		}
		if err := s.validate(cfg, id); err != nil {
			return err
		}
		if err := s.checkFileAliases(cfg); err != nil {
			return err
		}
		d.Config, d.RawConfig, d.Refs = cfg, raw, refs
		d.ETag = "E" + random(13, upper)
		d.Status = InProgress
		d.LastModified = s.now().UTC().Truncate(time.Millisecond)
		gen = s.gen.Add(1)
		return nil
	})
	if err != nil {
		return Distribution{}, storeError(err)
	}
	s.publish(gen, id, &d)
	s.deploy(d)
	return d, nil
}

// Delete removes a disabled distribution and its invalidations.
func (s *Service) Delete(ctx context.Context, id, ifMatch string) error {
	if err := s.apiWritable(id, ifMatch, CodeIllegalDelete); err != nil {
		return err
	}
	// Wait for invalidations being written for it, and keep new ones out.
	l := s.reg.lease(id)
	l.Lock()
	defer l.Unlock()
	var gen uint64
	err := s.store.DeleteDistribution(ctx, id, func(d Distribution) error {
		if d.FromFile {
			return newError(CodeIllegalDelete, "Distribution %s is declared in openfront's configuration file; change it there and restart.", id)
		}
		if ifMatch != d.ETag {
			return errPreconditionFailed()
		}
		// CloudFront deletes only a distribution whose disabling is deployed.
		if d.Config.Enabled || d.Status != Deployed {
			return newError(CodeDistributionNotDisabled, "The distribution you are trying to delete has not been disabled.")
		}
		gen = s.gen.Add(1)
		return nil
	})
	if err != nil {
		return storeError(err)
	}
	s.publish(gen, id, nil)
	if rm, ok := s.deployer.(Remover); ok {
		if err := rm.Remove(ctx, id); err != nil {
			// The deletion is durable; edges serve the deleted distribution
			// until they hear of it, as CloudFront's do for a while.
			s.log.Warn("telling edges of a deleted distribution failed", "id", id, "err", err)
		}
	}
	return nil
}

// apiWritable checks what comes before the store's write: that the
// distribution exists and is the API's, and that If-Match is there.
func (s *Service) apiWritable(id, ifMatch, fileCode string) error {
	p, ok := s.reg.Get(id)
	if !ok {
		return ErrNoSuchDistribution
	}
	if ifMatch == "" {
		return newError(CodeInvalidIfMatchVersion, "The If-Match version is missing or not valid for the resource.")
	}
	if p.FromFile {
		return newError(fileCode, "Distribution %s is declared in openfront's configuration file; change it there and restart.", id)
	}
	return nil
}

func errPreconditionFailed() error {
	return newError(CodePreconditionFailed, "The precondition given in one or more of the request-header fields evaluated to false.")
}

// storeError turns what the store refuses into CloudFront's errors.
func storeError(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return ErrNoSuchDistribution
	case errors.Is(err, ErrCallerReferenceTaken):
		return newError(CodeDistributionAlreadyExists, "The caller reference that you are using to create a distribution is associated with another distribution.")
	case errors.Is(err, ErrAliasTaken):
		return newError(CodeCNAMEAlreadyExists, "One or more of the CNAMEs you provided are already associated with a different resource.")
	}
	return missingRef(err)
}

// publish puts d in the registry (nil: removes id) unless a later write
// of id is there already. Writes to one distribution return in any
// order, but their change and check functions run in the store's order
// and number them (gen), as Create does before its write.
func (s *Service) publish(gen uint64, id string, d *Distribution) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if gen <= s.published[id] {
		return
	}
	s.published[id] = gen
	if d == nil {
		s.reg.remove(id)
	} else {
		s.reg.put(d)
	}
}

// deploy brings d into service in the background, then marks it Deployed
// unless it changed meanwhile.
func (s *Service) deploy(d Distribution) {
	s.deployMu.Lock()
	s.deploying[d.ID] = d.ETag
	s.deployMu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.deployMu.Lock()
			if s.deploying[d.ID] == d.ETag {
				delete(s.deploying, d.ID)
			}
			s.deployMu.Unlock()
		}()
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

// errChanged is markDeployed's change refusing: the distribution changed
// since the deployed version.
var errChanged = errors.New("distribution changed since")

func (s *Service) markDeployed(id, etag string) error {
	p, ok := s.reg.Get(id)
	if !ok {
		return nil // deleted: nothing to mark
	}
	if p.FromFile {
		s.pubMu.Lock()
		defer s.pubMu.Unlock()
		if p, ok := s.reg.Get(id); ok && p.ETag == etag && p.Status != Deployed {
			d := *p
			d.Status = Deployed
			s.reg.put(&d)
		}
		return nil
	}
	var gen uint64
	d, err := s.store.UpdateDistribution(s.ctx, id, func(d *Distribution) error {
		if d.ETag != etag || d.Status == Deployed {
			return errChanged
		}
		d.Status = Deployed
		gen = s.gen.Add(1)
		return nil
	})
	switch {
	case errors.Is(err, errChanged) || errors.Is(err, ErrNotFound):
		return nil // changed or deleted since: a later deploy owns it
	case err != nil:
		return err
	}
	s.publish(gen, id, &d)
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
	id, err := s.idFromARN(arn)
	if err != nil {
		return err
	}
	if p, ok := s.reg.Get(id); ok && p.FromFile {
		return newError(CodeIllegalUpdate, "Distribution %s is declared in openfront's configuration file; tags can't be changed through the API.", id)
	}
	var gen uint64
	d, err := s.store.UpdateDistribution(ctx, id, func(d *Distribution) error {
		d.Tags = change(slices.Clone(d.Tags))
		if len(d.Tags) > 50 {
			return newError(CodeInvalidTagging, "A resource can have at most 50 tags.")
		}
		gen = s.gen.Add(1)
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return newError(CodeNoSuchResource, "The specified resource does not exist.")
	}
	if err != nil {
		return storeError(err)
	}
	s.publish(gen, id, &d)
	return nil
}

// checkFileAliases refuses aliases a distribution of the configuration
// file holds (the store checks those of stored distributions).
func (s *Service) checkFileAliases(c Config) error {
	for _, a := range c.Aliases {
		if owner := s.reg.aliasOwner(AliasKey(a)); owner != "" {
			if p, ok := s.reg.Get(owner); ok && p.FromFile {
				return newError(CodeCNAMEAlreadyExists, "One or more of the CNAMEs you provided are already associated with a different resource.")
			}
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
