package config

import (
	"encoding"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Settings are the process settings of `openfront serve` and `openfront
// edge`. Each has a default, a config-file key, an environment variable
// and a flag (Table); a value comes from the first of these that sets it:
// flag, environment, file, default.
type Settings struct {
	APIAddr  string `yaml:"api_addr"`
	EdgeAddr string `yaml:"edge_addr"`
	DataDir  string `yaml:"data_dir"`
	Memory   bool   `yaml:"memory"`
	// PostgresURL, when set, is the database serve keeps everything in
	// instead of DataDir. Its password is never logged; Check's errors
	// never show it.
	PostgresURL       string        `yaml:"postgres_url"`
	InvalidationDelay time.Duration `yaml:"invalidation_delay"`
	// InvalidationRetention and InvalidationRetentionCount say which
	// Completed invalidations the log store (data_dir) forgets.
	InvalidationRetention      time.Duration `yaml:"invalidation_retention"`
	InvalidationRetentionCount int           `yaml:"invalidation_retention_count"`
	DeployDelay                time.Duration `yaml:"deploy_delay"`
	AccountID                  string        `yaml:"account_id"`
	DomainSuffix               string        `yaml:"domain_suffix"`
	NoEdge                     bool          `yaml:"no_edge"`
	EdgeName                   string        `yaml:"edge_name"`
	EdgeTimeout                time.Duration `yaml:"edge_timeout"`
	ControlPlane               string        `yaml:"control_plane"`
	CacheSize                  ByteSize      `yaml:"cache_size"`
	MaxObjectSize              ByteSize      `yaml:"max_object_size"`
	MaxStaleness               time.Duration `yaml:"max_staleness"`
	Pop                        string        `yaml:"pop"`
	LogLevel                   string        `yaml:"log_level"`
	LogFormat                  string        `yaml:"log_format"`
	MetricsAddr                string        `yaml:"metrics_addr"`
	ShutdownTimeout            time.Duration `yaml:"shutdown_timeout"`
	AccessLogDir               string        `yaml:"access_log_dir"`
	ReadHeaderTimeout          time.Duration `yaml:"read_header_timeout"`
	IdleTimeout                time.Duration `yaml:"idle_timeout"`
	WriteTimeout               time.Duration `yaml:"write_timeout"`
	BodyTimeout                time.Duration `yaml:"body_timeout"`
	MinBodyRate                int           `yaml:"min_body_rate"`
	APIBodyBudget              ByteSize      `yaml:"api_body_budget"`
	S3Endpoint                 string        `yaml:"s3_endpoint"`
	// The origin credentials sign origin requests for origin access
	// controls. They are never logged; Check's errors never show them.
	OriginAccessKeyID     string `yaml:"origin_access_key_id"`
	OriginSecretAccessKey string `yaml:"origin_secret_access_key"`
	OriginSessionToken    string `yaml:"origin_session_token"`
}

// Defaults returns every setting at its default.
func Defaults() Settings {
	return Settings{
		APIAddr:  "127.0.0.1:4747",
		EdgeAddr: "127.0.0.1:4748",
		DataDir:  "./openfront-data",
		// CloudFront lists the invalidations of the current and the
		// previous billing period at least (up to 62 days).
		InvalidationRetention:      90 * 24 * time.Hour,
		InvalidationRetentionCount: 100000,
		AccountID:                  "000000000000",
		DomainSuffix:               "cloudfront.localhost",
		EdgeTimeout:                30 * time.Second,
		CacheSize:                  256 << 20,
		MaxObjectSize:              32 << 20,
		MaxStaleness:               10 * time.Second,
		Pop:                        "LOCAL1-C1",
		LogLevel:                   "info",
		LogFormat:                  "text",
		ShutdownTimeout:            30 * time.Second,
		ReadHeaderTimeout:          10 * time.Second,
		IdleTimeout:                2 * time.Minute,
		WriteTimeout:               30 * time.Second,
		BodyTimeout:                10 * time.Minute,
		MinBodyRate:                1024,
		APIBodyBudget:              64 << 20,
	}
}

// Command names a subcommand a setting applies to.
type Command uint8

// The subcommands with settings.
const (
	Serve Command = 1 << iota
	Edge
)

// Setting describes one setting: where it is read from and what it means.
type Setting struct {
	Key      string  // config-file key
	Flag     string  // flag name of serve (and of edge unless EdgeFlag)
	EdgeFlag string  // flag name of edge, when it differs
	Commands Command // which subcommands have it
	Usage    string
	field    string // Settings field
}

// Env is the setting's environment variable: OPENFRONT_ and its key in
// upper case.
func (s Setting) Env() string { return "OPENFRONT_" + strings.ToUpper(s.Key) }

// FlagFor is the setting's flag name in cmd, "" if cmd has none.
func (s Setting) FlagFor(cmd Command) string {
	switch {
	case s.Commands&cmd == 0:
		return ""
	case cmd == Edge && s.EdgeFlag != "":
		return s.EdgeFlag
	}
	return s.Flag
}

// Table lists every setting, in the order the reference shows them.
var Table = []Setting{
	{"api_addr", "api-addr", "", Serve, "address of the CloudFront API listener", "APIAddr"},
	{"edge_addr", "edge-addr", "", Serve | Edge, "address of the viewer (edge) listener", "EdgeAddr"},
	{"data_dir", "data-dir", "", Serve, "directory of the durable store", "DataDir"},
	{"memory", "memory", "", Serve, "keep everything in memory (nothing survives a restart)", "Memory"},
	{"postgres_url", "postgres-url", "", Serve, "PostgreSQL database to keep everything in instead of data_dir, shared by the replicas that name it (postgres://user:password@host:5432/db?sslmode=...; libpq's URL and key=value forms and PG* variables). A write is acknowledged once committed, as durable as the server's synchronous_commit. Its password is never logged: prefer the environment or the file to a flag, or a .pgpass file", "PostgresURL"},
	{"invalidation_delay", "invalidation-delay", "", Serve, "time an invalidation stays InProgress (rehearse real CloudFront timing with minutes)", "InvalidationDelay"},
	{"invalidation_retention", "invalidation-retention", "", Serve, "how long the durable store (data_dir) keeps a Completed invalidation after it completed (in memory, and listed); older ones are forgotten (GetInvalidation 404, a CallerReference replay creates a new one) and compacted out of the log; 0: kept for good. Not with postgres_url, which keeps every invalidation in the database", "InvalidationRetention"},
	{"invalidation_retention_count", "invalidation-retention-count", "", Serve, "most Completed invalidations the durable store (data_dir) keeps per distribution; past it, the oldest are forgotten as with invalidation_retention; 0: no limit. InProgress ones are always kept", "InvalidationRetentionCount"},
	{"deploy_delay", "deploy-delay", "", Serve, "time a created or updated distribution stays InProgress before Deployed", "DeployDelay"},
	{"account_id", "account-id", "", Serve, "AWS account id used in ARNs", "AccountID"},
	{"domain_suffix", "domain-suffix", "", Serve, "suffix of distributions' domain names (d1234567890abc.<suffix>)", "DomainSuffix"},
	{"no_edge", "no-edge", "", Serve, "run the control plane alone, without the in-process edge", "NoEdge"},
	{"edge_name", "edge-name", "name", Serve | Edge, "name of the edge in the fleet registry (when empty: serve's in-process edge is `local`, an edge its host name and edge port)", "EdgeName"},
	{"edge_timeout", "edge-timeout", "", Serve, "how long an edge may go without acknowledging (stopped, cut off, dead) before it leaves the registry; edges keep their max_staleness at half of it at most", "EdgeTimeout"},
	{"control_plane", "control-plane", "", Edge, "URL of the control plane's API (openfront serve), e.g. http://127.0.0.1:4747; or the URLs of several replicas sharing one store, separated by commas: the edge follows one (drawn at random) and moves to the next when it dies, missing nothing", "ControlPlane"},
	{"cache_size", "cache-size", "", Serve | Edge, "bytes of memory the edge cache may hold (suffixes KiB, MiB, GiB)", "CacheSize"},
	{"max_object_size", "max-object-size", "", Serve | Edge, "largest object the edge caches; larger ones stream through uncached", "MaxObjectSize"},
	{"max_staleness", "max-staleness", "", Serve | Edge, "how long an edge may go without an acknowledgement accepted by the control plane before it stops serving from its cache (it answers 503 until caught up); at most half edge_timeout", "MaxStaleness"},
	{"pop", "pop", "", Serve | Edge, "X-Amz-Cf-Pop the edge reports", "Pop"},
	{"log_level", "log-level", "", Serve | Edge, "debug, info, warn or error", "LogLevel"},
	{"log_format", "log-format", "", Serve | Edge, "log lines as text (key=value) or json (one object a line)", "LogFormat"},
	{"metrics_addr", "metrics-addr", "", Serve | Edge, "address of the Prometheus /metrics listener, e.g. 127.0.0.1:9090 (none when empty)", "MetricsAddr"},
	{"shutdown_timeout", "shutdown-timeout", "", Serve | Edge, "how long in-flight requests may take to finish on SIGINT/SIGTERM", "ShutdownTimeout"},
	{"access_log_dir", "access-log-dir", "", Serve | Edge, "directory of the edge's access logs, in CloudFront's standard log format (none when empty)", "AccessLogDir"},
	{"read_header_timeout", "read-header-timeout", "", Serve | Edge, "how long a client may take to send a request's head (both listeners)", "ReadHeaderTimeout"},
	{"idle_timeout", "idle-timeout", "", Serve | Edge, "how long a kept-alive connection may wait for its next request (both listeners)", "IdleTimeout"},
	{"write_timeout", "write-timeout", "", Serve | Edge, "how long one write of an answer may wait for the client to read; a large answer is written in pieces, each with this long (both listeners)", "WriteTimeout"},
	{"body_timeout", "body-timeout", "", Serve | Edge, "how long a client may take to send a whole request body (both listeners)", "BodyTimeout"},
	{"min_body_rate", "min-body-rate", "", Serve | Edge, "bytes per second a request body must average once its first 10s have passed; 0: no minimum (both listeners)", "MinBodyRate"},
	{"api_body_budget", "api-body-budget", "", Serve, "bytes of API request bodies held at once across connections (bodies are read whole to check their hash); past it, 503 ServiceUnavailable; at least 1MiB", "APIBodyBudget"},
	{"s3_endpoint", "s3-endpoint", "", Serve | Edge, "URL (http://host:port) of an S3-compatible server that requests to origins whose domain is an S3 bucket's (<bucket>.s3.<region>.amazonaws.com, <bucket>.s3.amazonaws.com, <bucket>.s3-<region>.amazonaws.com, website endpoints) go to, path-style (/<bucket>/<key>); none when empty", "S3Endpoint"},
	{"origin_access_key_id", "origin-access-key-id", "", Serve | Edge, "access key id the edge signs origin requests with for origin access controls (SigV4, service s3); when none of the origin_* credentials is set, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN", "OriginAccessKeyID"},
	{"origin_secret_access_key", "origin-secret-access-key", "", Serve | Edge, "secret of origin_access_key_id (never logged; prefer the environment or the file to a flag, which other users can see)", "OriginSecretAccessKey"},
	{"origin_session_token", "origin-session-token", "", Serve | Edge, "session token of temporary origin credentials (sent as X-Amz-Security-Token)", "OriginSessionToken"},
}

// awsCredentialEnv maps the origin credentials' keys to the standard AWS
// environment variables they default to.
var awsCredentialEnv = []struct{ key, env string }{
	{"origin_access_key_id", "AWS_ACCESS_KEY_ID"},
	{"origin_secret_access_key", "AWS_SECRET_ACCESS_KEY"},
	{"origin_session_token", "AWS_SESSION_TOKEN"},
}

// ptr returns the address of s's field for setting t.
func (s *Settings) ptr(t Setting) reflect.Value {
	f := reflect.ValueOf(s).Elem().FieldByName(t.field)
	if !f.IsValid() {
		panic("config: Table names no field " + t.field)
	}
	return f.Addr()
}

// Source says where a setting's value came from, for error messages.
type Source struct {
	Flag string // the flag, if a flag set it
	Env  string // the variable, if the environment set it
	Line int    // the line of the config file, if the file set it
}

func (s Source) String() string {
	switch {
	case s.Flag != "":
		return "--" + s.Flag
	case s.Env != "":
		return s.Env
	case s.Line > 0:
		return fmt.Sprintf("line %d", s.Line)
	}
	return "default"
}

// Flags registers cmd's settings on fs and returns a function to call
// after fs.Parse: it puts into dst what the environment (env, e.g.
// os.LookupEnv) and the flags given set, over what dst holds (defaults,
// then the file), and records each value's source in sources (by key).
func Flags(fs *flag.FlagSet, cmd Command) (apply func(dst *Settings, env func(string) (string, bool), sources map[string]Source) error) {
	vals := Defaults()
	for _, t := range Table {
		name := t.FlagFor(cmd)
		if name == "" {
			continue
		}
		p := vals.ptr(t)
		switch v := p.Interface().(type) {
		case *string:
			fs.StringVar(v, name, *v, t.Usage)
		case *bool:
			fs.BoolVar(v, name, *v, t.Usage)
		case *int:
			fs.IntVar(v, name, *v, t.Usage)
		case *time.Duration:
			fs.DurationVar(v, name, *v, t.Usage)
		case *ByteSize:
			fs.Var(v, name, t.Usage)
		default:
			panic(fmt.Sprintf("config: setting %s has unsupported type %T", t.Key, v))
		}
	}
	return func(dst *Settings, env func(string) (string, bool), sources map[string]Source) error {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, t := range Table {
			if t.Commands&cmd == 0 {
				continue
			}
			if name := t.FlagFor(cmd); set[name] {
				dst.ptr(t).Elem().Set(vals.ptr(t).Elem())
				sources[t.Key] = Source{Flag: name}
				continue
			}
			if env == nil {
				continue
			}
			if s, ok := env(t.Env()); ok {
				if err := setText(dst.ptr(t), s); err != nil {
					return fmt.Errorf("%s: %w", t.Env(), err)
				}
				sources[t.Key] = Source{Env: t.Env()}
			}
		}
		// The origin credentials come as a whole from the standard AWS
		// variables when no flag, OPENFRONT_ variable or file line sets
		// any of them: a key id is never paired with another's secret.
		if env == nil {
			return nil
		}
		for _, c := range awsCredentialEnv {
			if _, set := sources[c.key]; set {
				return nil
			}
		}
		for _, c := range awsCredentialEnv {
			if v, ok := env(c.env); ok && v != "" {
				for _, t := range Table {
					if t.Key == c.key && t.Commands&cmd != 0 {
						dst.ptr(t).Elem().SetString(v)
						sources[c.key] = Source{Env: c.env}
					}
				}
			}
		}
		return nil
	}
}

// setText parses s into the setting p points to.
func setText(p reflect.Value, s string) error {
	switch v := p.Interface().(type) {
	case *string:
		*v = s
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		*v = b
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		*v = n
	case *time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 30s, 2m)", s)
		}
		*v = d
	case encoding.TextUnmarshaler:
		return v.UnmarshalText([]byte(s))
	default:
		return fmt.Errorf("unsupported type %T", v)
	}
	return nil
}

// Check validates the settings cmd uses, naming the source of a bad value.
func (s *Settings) Check(cmd Command, sources map[string]Source) error {
	bad := func(key, format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		if src, ok := sources[key]; ok {
			return fmt.Errorf("%s: %s: %s", src, key, msg)
		}
		flagName := ""
		for _, t := range Table {
			if t.Key == key {
				flagName = t.FlagFor(cmd)
			}
		}
		return fmt.Errorf("%s (--%s, or %s in the file): %s", key, flagName, key, msg)
	}
	uses := func(key string) bool {
		for _, t := range Table {
			if t.Key == key {
				return t.Commands&cmd != 0
			}
		}
		return false
	}
	for key, addr := range map[string]string{"api_addr": s.APIAddr, "edge_addr": s.EdgeAddr} {
		if !uses(key) {
			continue
		}
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			return bad(key, "%q is not a host:port address", addr)
		}
	}
	for key, d := range map[string]time.Duration{"invalidation_delay": s.InvalidationDelay, "deploy_delay": s.DeployDelay, "invalidation_retention": s.InvalidationRetention,
		"edge_timeout": s.EdgeTimeout, "max_staleness": s.MaxStaleness, "shutdown_timeout": s.ShutdownTimeout} {
		if uses(key) && d < 0 {
			return bad(key, "must not be negative")
		}
	}
	if uses("edge_timeout") && s.EdgeTimeout <= 0 {
		return bad("edge_timeout", "must be positive")
	}
	for key, d := range map[string]time.Duration{"read_header_timeout": s.ReadHeaderTimeout, "idle_timeout": s.IdleTimeout,
		"write_timeout": s.WriteTimeout, "body_timeout": s.BodyTimeout} {
		if d <= 0 {
			return bad(key, "must be positive, not %s", d)
		}
	}
	if uses("postgres_url") && s.PostgresURL != "" {
		if s.Memory {
			return bad("postgres_url", "cannot be used with memory: choose one store")
		}
		if strings.Contains(s.PostgresURL, "://") && !strings.HasPrefix(s.PostgresURL, "postgres://") && !strings.HasPrefix(s.PostgresURL, "postgresql://") {
			// The value is not shown: it may hold a password.
			return bad("postgres_url", "must be a postgres:// or postgresql:// URL, or libpq's key=value form")
		}
	}
	if uses("invalidation_retention_count") && s.InvalidationRetentionCount < 0 {
		return bad("invalidation_retention_count", "must be 0 or more, not %d", s.InvalidationRetentionCount)
	}
	if s.MinBodyRate < 0 {
		return bad("min_body_rate", "must be 0 or more, not %d", s.MinBodyRate)
	}
	if uses("api_body_budget") && s.APIBodyBudget < 1<<20 {
		return bad("api_body_budget", "must be at least 1MiB, not %d", int64(s.APIBodyBudget))
	}
	if uses("control_plane") {
		if s.ControlPlane == "" {
			return bad("control_plane", "is required (the URL of openfront serve's API)")
		}
		for u := range strings.SplitSeq(s.ControlPlane, ",") {
			p, err := url.Parse(strings.TrimSpace(u))
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				return bad("control_plane", "%q is not an http:// or https:// URL (several replicas' URLs are separated by commas)", strings.TrimSpace(u))
			}
		}
	}
	if s.CacheSize < 0 {
		return bad("cache_size", "must not be negative")
	}
	if s.MaxObjectSize < 0 {
		return bad("max_object_size", "must not be negative")
	}
	switch strings.ToLower(s.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return bad("log_level", "%q is not debug, info, warn or error", s.LogLevel)
	}
	switch s.LogFormat {
	case "text", "json":
	default:
		return bad("log_format", "%q is not text or json", s.LogFormat)
	}
	if s.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(s.MetricsAddr); err != nil || port == "" {
			return bad("metrics_addr", "%q is not a host:port address", s.MetricsAddr)
		}
	}
	if uses("account_id") && (len(s.AccountID) != 12 || strings.Trim(s.AccountID, "0123456789") != "") {
		return bad("account_id", "%q is not 12 digits", s.AccountID)
	}
	if uses("pop") && s.Pop == "" {
		return bad("pop", "must not be empty")
	}
	if uses("s3_endpoint") && s.S3Endpoint != "" {
		u, err := url.Parse(s.S3Endpoint)
		if err == nil && u.User != nil { // the value is not shown: it holds a password
			return bad("s3_endpoint", "must not hold credentials (give them as origin_access_key_id and origin_secret_access_key)")
		}
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return bad("s3_endpoint", "%q is not an http:// or https:// URL of a host (and port), without a path", s.S3Endpoint)
		}
	}
	// The credentials' values are never shown: only which are missing.
	if uses("origin_access_key_id") {
		switch {
		case s.OriginAccessKeyID != "" && s.OriginSecretAccessKey == "":
			return bad("origin_secret_access_key", "is required with origin_access_key_id")
		case s.OriginAccessKeyID == "" && s.OriginSecretAccessKey != "":
			return bad("origin_access_key_id", "is required with origin_secret_access_key")
		case s.OriginAccessKeyID == "" && s.OriginSessionToken != "":
			return bad("origin_session_token", "needs origin_access_key_id and origin_secret_access_key")
		}
	}
	return nil
}

// ByteSize is a number of bytes, written as an integer or with a suffix:
// KiB, MiB, GiB (powers of 1,024) or KB, MB, GB (of 1,000).
type ByteSize int64

var sizeSuffixes = []struct {
	s string
	n int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

// UnmarshalText implements encoding.TextUnmarshaler (flags, YAML, env).
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	mult := int64(1)
	for _, suf := range sizeSuffixes {
		if strings.HasSuffix(s, suf.s) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, suf.s)), suf.n
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || (n > 0 && mult > (1<<62)/n) {
		return fmt.Errorf("%q is not a size (bytes, or a number with KiB, MiB or GiB)", string(text))
	}
	*b = ByteSize(n * mult)
	return nil
}

// String implements flag.Value: the largest binary unit that divides it.
func (b *ByteSize) String() string {
	n := int64(*b)
	for _, suf := range []struct {
		s string
		n int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%suf.n == 0 {
			return fmt.Sprintf("%d%s", n/suf.n, suf.s)
		}
	}
	return strconv.FormatInt(n, 10)
}

// UnmarshalYAML reads a size from the file, naming the line of a bad one.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a size", n.Line)
	}
	if err := b.UnmarshalText([]byte(n.Value)); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// Set implements flag.Value.
func (b *ByteSize) Set(s string) error { return b.UnmarshalText([]byte(s)) }

// LookupEnv is os.LookupEnv, the env of a real process.
var LookupEnv = os.LookupEnv
