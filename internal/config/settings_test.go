package config

import (
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envOf makes an env lookup from "NAME=value" pairs.
func envOf(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// load does what serve and edge do: the file, then the environment and
// the flags over it.
func load(t *testing.T, cmd Command, file string, env func(string) (string, bool), args ...string) (*Config, error) {
	t.Helper()
	c, err := Parse([]byte(file))
	if err != nil {
		return nil, err
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	apply := Flags(fs, cmd)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := apply(&c.Settings, env, c.Sources); err != nil {
		return nil, err
	}
	return c, c.Settings.Check(cmd, c.Sources)
}

func TestSettingsPrecedence(t *testing.T) {
	file := "api_addr: 127.0.0.1:1001\nedge_addr: 127.0.0.1:1002\ncache_size: 64MiB\nedge_timeout: 1m\nlog_level: warn\n"
	c, err := load(t, Serve, file, envOf("OPENFRONT_EDGE_ADDR=127.0.0.1:2002", "OPENFRONT_LOG_LEVEL=debug"), "--log-level", "error")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Settings
	if s.APIAddr != "127.0.0.1:1001" || s.EdgeAddr != "127.0.0.1:2002" || s.LogLevel != "error" ||
		s.CacheSize != 64<<20 || s.EdgeTimeout != time.Minute || s.DataDir != Defaults().DataDir {
		t.Errorf("settings = %+v", s)
	}
	for key, want := range map[string]string{"api_addr": "line 1", "edge_addr": "OPENFRONT_EDGE_ADDR", "log_level": "--log-level", "data_dir": "default"} {
		if got := c.Sources[key].String(); got != want {
			t.Errorf("source of %s = %s, want %s", key, got, want)
		}
	}
}

func TestEdgeFlagNames(t *testing.T) {
	c, err := load(t, Edge, "", nil, "--name", "edge-a", "--control-plane", "http://127.0.0.1:4747")
	if err != nil {
		t.Fatal(err)
	}
	if c.EdgeName != "edge-a" || c.ControlPlane != "http://127.0.0.1:4747" {
		t.Errorf("edge settings = %+v", c.Settings)
	}
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	Flags(fs, Edge)
	if err := fs.Parse([]string{"--data-dir", "x"}); err == nil {
		t.Error("edge accepted serve's --data-dir")
	}
}

func TestSettingsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        func(string) (string, bool)
		args       []string
		want       string
	}{
		{"dash key", "edge-addr: 127.0.0.1:1\n", nil, nil, `line 1: unknown key "edge-addr" (did you mean "edge_addr"?)`},
		{"unknown key", "distributions: []\nfoo: 1\n", nil, nil, `line 2: unknown key "foo"`},
		{"bad size in file", "cache_size: lots\n", nil, nil, "line 1"},
		{"bad duration in file", "edge_timeout: soon\n", nil, nil, "line 1"},
		{"negative in file", "edge_timeout: -1s\n", nil, nil, "line 1: edge_timeout: must not be negative"},
		{"negative size", "cache_size: -1\n", nil, nil, "line 1"},
		{"negative retention", "", nil, []string{"--invalidation-retention", "-1h"}, "--invalidation-retention: invalidation_retention: must not be negative"},
		{"negative retention count", "", envOf("OPENFRONT_INVALIDATION_RETENTION_COUNT=-5"), nil, "OPENFRONT_INVALIDATION_RETENTION_COUNT: invalidation_retention_count: must be 0 or more, not -5"},
		{"bad env", "", envOf("OPENFRONT_MAX_STALENESS=often"), nil, "OPENFRONT_MAX_STALENESS: \"often\" is not a duration"},
		{"bad flag value", "", nil, []string{"--log-level", "loud"}, `--log-level: log_level: "loud" is not debug, info, warn or error`},
		{"bad address", "api_addr: nowhere\n", nil, nil, `line 1: api_addr: "nowhere" is not a host:port address`},
		{"bad account", "account_id: '12'\n", nil, nil, "line 1: account_id"},
		{"bad log format", "log_format: xml\n", nil, nil, `line 1: log_format: "xml" is not text or json`},
		{"bad log format flag", "", nil, []string{"--log-format", "JSON"}, `--log-format: log_format: "JSON" is not text or json`},
		{"bad metrics address", "", envOf("OPENFRONT_METRICS_ADDR=9090"), nil, `OPENFRONT_METRICS_ADDR: metrics_addr: "9090" is not a host:port address`},
		{"postgres and memory", "memory: true\n", envOf("OPENFRONT_POSTGRES_URL=postgres://u:s3cret@db/of"), nil, "OPENFRONT_POSTGRES_URL: postgres_url: cannot be used with memory"},
		{"postgres scheme", "postgres_url: mysql://u:s3cret@db/of\n", nil, nil, "line 1: postgres_url: must be a postgres:// or postgresql:// URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, Serve, tc.file, tc.env, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %v shows a password", err)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1024": 1024, "256MiB": 256 << 20, "2 GiB": 2 << 30, "10KB": 10_000, "7B": 7} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err != nil || int64(b) != want {
			t.Errorf("%q = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "MiB", "99999999999GiB"} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q accepted as %d", in, b)
		}
	}
	for n, want := range map[ByteSize]string{0: "0", 1000: "1000", 256 << 20: "256MiB", 3 << 30: "3GiB", 3072: "3KiB", 1536: "1536"} {
		if got := n.String(); got != want {
			t.Errorf("ByteSize(%d) = %q, want %q", int64(n), got, want)
		}
	}
}

// Every setting has a field, a key, a flag and usage text, and every
// Settings field is in Table.
func TestTableComplete(t *testing.T) {
	seen := map[string]bool{}
	var s Settings
	for _, e := range Table {
		s.ptr(e) // panics on a wrong field name
		if e.Key == "" || e.Flag == "" || e.Usage == "" || e.Commands == 0 {
			t.Errorf("incomplete setting %+v", e)
		}
		if seen[e.Key] {
			t.Errorf("key %s twice", e.Key)
		}
		seen[e.Key] = true
	}
	if n := len(Table); n != countFields(Settings{}) {
		t.Errorf("Table has %d settings, Settings %d fields", n, countFields(Settings{}))
	}
}

// TestReferenceIsCurrent: docs/configuration.md shows reference().
// OPENFRONT_UPDATE_DOCS=1 rewrites it.
func TestReferenceIsCurrent(t *testing.T) {
	const path = "../../docs/configuration.md"
	const begin, end = "<!-- settings:begin -->\n", "<!-- settings:end -->"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", path, begin, end)
	}
	want := doc[:i+len(begin)] + reference() + doc[j:]
	if doc == want {
		return
	}
	if os.Getenv("OPENFRONT_UPDATE_DOCS") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's settings table is not the one Table makes; run OPENFRONT_UPDATE_DOCS=1 go test -run ReferenceIsCurrent ./internal/config", path)
}

// countFields is how many fields Settings has: one per entry of Table.
func countFields(s Settings) int { return reflect.TypeOf(s).NumField() }

// reference is the Markdown table of every setting that
// docs/configuration.md holds (TestReferenceIsCurrent keeps them equal).
func reference() string {
	var b strings.Builder
	b.WriteString("| key | `serve` flag | `edge` flag | environment | default | meaning |\n|---|---|---|---|---|---|\n")
	def := Defaults()
	for _, t := range Table {
		flagCell := func(cmd Command) string {
			if name := t.FlagFor(cmd); name != "" {
				return "`--" + name + "`"
			}
			return "—"
		}
		v := def.ptr(t).Elem().Interface()
		var shown string
		switch x := v.(type) {
		case ByteSize:
			shown = x.String()
		case string:
			shown = x
		default:
			shown = fmt.Sprint(x)
		}
		if shown == "" {
			shown = "—"
		} else {
			shown = "`" + shown + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` | %s | %s |\n", t.Key, flagCell(Serve), flagCell(Edge), t.Env(), shown, t.Usage)
	}
	return b.String()
}

// The origin credentials come from origin_* settings, else as a whole
// from the standard AWS variables; a half pair is refused without showing
// a secret.
func TestOriginCredentials(t *testing.T) {
	aws := envOf("AWS_ACCESS_KEY_ID=AKIDAWS", "AWS_SECRET_ACCESS_KEY=awssecret", "AWS_SESSION_TOKEN=awstoken")
	for _, cmd := range []Command{Serve, Edge} {
		c, err := load(t, cmd, "control_plane: http://127.0.0.1:4747\n", aws)
		if err != nil {
			t.Fatal(err)
		}
		if c.OriginAccessKeyID != "AKIDAWS" || c.OriginSecretAccessKey != "awssecret" || c.OriginSessionToken != "awstoken" ||
			c.Sources["origin_secret_access_key"].String() != "AWS_SECRET_ACCESS_KEY" {
			t.Errorf("from AWS_*: %q %q %q (%s)", c.OriginAccessKeyID, c.OriginSecretAccessKey, c.OriginSessionToken, c.Sources["origin_secret_access_key"])
		}
	}
	// Any origin_* setting takes the pair out of AWS_*'s hands.
	c, err := load(t, Edge, "control_plane: http://127.0.0.1:4747\norigin_access_key_id: AKIDFILE\norigin_secret_access_key: filesecret\n", aws)
	if err != nil {
		t.Fatal(err)
	}
	if c.OriginAccessKeyID != "AKIDFILE" || c.OriginSecretAccessKey != "filesecret" || c.OriginSessionToken != "" {
		t.Errorf("from the file: %q %q %q", c.OriginAccessKeyID, c.OriginSecretAccessKey, c.OriginSessionToken)
	}
	c, err = load(t, Serve, "", envOf("OPENFRONT_ORIGIN_ACCESS_KEY_ID=AKIDENV", "OPENFRONT_ORIGIN_SECRET_ACCESS_KEY=envsecret", "AWS_ACCESS_KEY_ID=AKIDAWS"),
		"--s3-endpoint", "http://127.0.0.1:9000")
	if err != nil || c.OriginAccessKeyID != "AKIDENV" || c.OriginSecretAccessKey != "envsecret" || c.S3Endpoint != "http://127.0.0.1:9000" {
		t.Errorf("from OPENFRONT_*: %v %q", err, c.OriginAccessKeyID)
	}
	for _, tc := range []struct {
		file string
		env  func(string) (string, bool)
		args []string
		want string
	}{
		{"origin_access_key_id: AKID\n", nil, nil, "origin_secret_access_key (--origin-secret-access-key, or origin_secret_access_key in the file): is required with origin_access_key_id"},
		{"", nil, []string{"--origin-secret-access-key", "topsecret"}, "origin_access_key_id (--origin-access-key-id, or origin_access_key_id in the file): is required with origin_secret_access_key"},
		{"", envOf("AWS_SECRET_ACCESS_KEY=topsecret"), nil, "origin_access_key_id"},
		{"origin_session_token: topsecret\n", nil, nil, "line 1: origin_session_token: needs origin_access_key_id"},
		{"s3_endpoint: 127.0.0.1:9000\n", nil, nil, `line 1: s3_endpoint: "127.0.0.1:9000" is not an http:// or https:// URL`},
		{"s3_endpoint: http://127.0.0.1:9000/bucket\n", nil, nil, `is not an http:// or https:// URL of a host (and port), without a path`},
		{"", envOf("OPENFRONT_S3_ENDPOINT=http://me:topsecret@127.0.0.1:9000"), nil, "OPENFRONT_S3_ENDPOINT: s3_endpoint: must not hold credentials"},
	} {
		_, err := load(t, Serve, tc.file, tc.env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %v: error %v, want %q", tc.file, tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("an error shows a secret: %v", err)
		}
	}
}

// --control-plane takes several replicas' URLs, separated by commas, each
// of which must be an http(s) URL.
func TestControlPlaneReplicas(t *testing.T) {
	c, err := load(t, Edge, "", nil, "--control-plane", "http://10.0.0.1:4747, https://cp-b.test:4747/")
	if err != nil {
		t.Fatal(err)
	}
	if c.ControlPlane != "http://10.0.0.1:4747, https://cp-b.test:4747/" {
		t.Errorf("control_plane = %q", c.ControlPlane)
	}
	for _, bad := range []string{"http://10.0.0.1:4747,", "10.0.0.1:4747", "http://a:1,,http://b:2", "ftp://a:1"} {
		if _, err := load(t, Edge, "", nil, "--control-plane", bad); err == nil || !strings.Contains(err.Error(), "control_plane") {
			t.Errorf("--control-plane %q: err %v, want one about control_plane", bad, err)
		}
	}
}
