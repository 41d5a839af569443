// Package config reads openfront's YAML configuration file: the
// distributions to serve, the credentials API clients sign with, and the
// limits to enforce. Every error names the file and line at fault.
package config

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration file: the process settings at its top
// level (every key of Table), and what the server serves.
type Config struct {
	// Settings hold the defaults with what the file sets over them;
	// environment variables and flags go over that (Flags).
	Settings `yaml:",inline"`

	Distributions []Distribution `yaml:"distributions"`
	Credentials   []Credential   `yaml:"credentials"`
	Limits        Limits         `yaml:"limits"`

	// Sources says where each setting the file set came from (its line),
	// by key; Flags adds the environment's and the flags'.
	Sources map[string]Source `yaml:"-"`
}

// Distribution declares one distribution.
type Distribution struct {
	ID      string   `yaml:"id"`
	Origin  string   `yaml:"origin"`
	Aliases []string `yaml:"aliases"`

	// OriginURL is Origin parsed.
	OriginURL *url.URL `yaml:"-"`
	// Line is where the entry starts in the file.
	Line int `yaml:"-"`
}

// Credential is an access key API clients may sign requests with.
type Credential struct {
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	// Distributions, when not empty, are the only distributions the key
	// may act on.
	Distributions []string `yaml:"distributions"`

	Line int `yaml:"-"`
}

// Limits override CloudFront's default quotas; zero keeps the default.
type Limits struct {
	MaxBatchPaths              int `yaml:"max_batch_paths"`
	MaxInProgressFilePaths     int `yaml:"max_in_progress_file_paths"`
	MaxInProgressWildcardPaths int `yaml:"max_in_progress_wildcard_paths"`
}

// Load reads and checks the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

var idPattern = regexp.MustCompile(`^[A-Z0-9]{1,64}$`)

// Parse reads and checks a configuration document. Settings it does not
// set keep their defaults.
func Parse(data []byte) (*Config, error) {
	if err := checkText(data); err != nil {
		return nil, err
	}
	c := Config{Settings: Defaults(), Sources: map[string]Source{}}
	if err := topLevelKeys(data, c.Sources); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, withLine(tidy(err), data)
	}
	seen := map[string]int{}
	aliases := map[string]int{}
	for i := range c.Distributions {
		d := &c.Distributions[i]
		u, err := url.Parse(d.Origin)
		if d.Origin == "" {
			return nil, fmt.Errorf("line %d: distribution needs an origin URL", d.Line)
		}
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("line %d: origin %q is not an http:// or https:// URL with a host", d.Line, d.Origin)
		}
		d.OriginURL = u
		if d.ID == "" {
			d.ID = generatedID(d)
		}
		if !idPattern.MatchString(d.ID) {
			return nil, fmt.Errorf("line %d: distribution id %q must be 1 to 64 upper-case letters and digits", d.Line, d.ID)
		}
		if prev, ok := seen[d.ID]; ok {
			return nil, fmt.Errorf("line %d: duplicate distribution id %s (first at line %d)", d.Line, d.ID, prev)
		}
		seen[d.ID] = d.Line
		for _, a := range d.Aliases {
			a = strings.ToLower(a)
			if prev, ok := aliases[a]; ok {
				return nil, fmt.Errorf("line %d: alias %s is already used by the distribution at line %d", d.Line, a, prev)
			}
			aliases[a] = d.Line
		}
	}
	keys := map[string]int{}
	for _, k := range c.Credentials {
		if k.AccessKeyID == "" || k.SecretAccessKey == "" {
			return nil, fmt.Errorf("line %d: a credential needs access_key_id and secret_access_key", k.Line)
		}
		if prev, ok := keys[k.AccessKeyID]; ok {
			return nil, fmt.Errorf("line %d: duplicate access_key_id %s (first at line %d)", k.Line, k.AccessKeyID, prev)
		}
		keys[k.AccessKeyID] = k.Line
		for _, id := range k.Distributions {
			if _, ok := seen[id]; !ok {
				return nil, fmt.Errorf("line %d: credential %s names unknown distribution %s", k.Line, k.AccessKeyID, id)
			}
		}
	}
	return &c, nil
}

// sections are the top-level keys that are not settings.
var sections = map[string]bool{"distributions": true, "credentials": true, "limits": true}

// topLevelKeys checks the document's top-level keys, naming an unknown one
// with the key it may have meant, and records the line of each setting.
func topLevelKeys(data []byte, sources map[string]Source) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return withLine(tidy(err), data)
	}
	if len(doc.Content) == 0 {
		return nil // empty document
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping of settings and sections", top.Line)
	}
	known := map[string]bool{}
	for _, t := range Table {
		known[t.Key] = true
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k := top.Content[i]
		switch {
		case sections[k.Value]:
		case known[k.Value]:
			sources[k.Value] = Source{Line: k.Line}
		default:
			if alt := strings.ReplaceAll(k.Value, "-", "_"); known[alt] || sections[alt] {
				return fmt.Errorf("line %d: unknown key %q (did you mean %q?)", k.Line, k.Value, alt)
			}
			return fmt.Errorf("line %d: unknown key %q (docs/configuration.md lists every key)", k.Line, k.Value)
		}
	}
	return nil
}

// UnmarshalYAML records the line of the entry.
func (d *Distribution) UnmarshalYAML(n *yaml.Node) error {
	type plain Distribution
	if err := strictDecode(n, (*plain)(d)); err != nil {
		return err
	}
	d.Line = n.Line
	return nil
}

// UnmarshalYAML refuses negative limits, naming the line.
func (l *Limits) UnmarshalYAML(n *yaml.Node) error {
	type plain Limits
	if err := strictDecode(n, (*plain)(l)); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if v := n.Content[i+1]; strings.HasPrefix(strings.TrimSpace(v.Value), "-") {
			return fmt.Errorf("line %d: %s must not be negative", v.Line, n.Content[i].Value)
		}
	}
	return nil
}

// UnmarshalYAML records the line of the entry.
func (k *Credential) UnmarshalYAML(n *yaml.Node) error {
	type plain Credential
	if err := strictDecode(n, (*plain)(k)); err != nil {
		return err
	}
	k.Line = n.Line
	return nil
}

// strictDecode decodes n into v, refusing keys v has no field for: a
// yaml.Node does not inherit the decoder's KnownFields setting.
func strictDecode(n *yaml.Node, v any) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping", n.Line)
	}
	known := map[string]bool{}
	t := reflect.TypeOf(v).Elem()
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			known[name] = true
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !known[k.Value] {
			return fmt.Errorf("line %d: unknown field %q", k.Line, k.Value)
		}
	}
	if err := n.Decode(v); err != nil {
		return tidy(err)
	}
	return nil
}

func tidy(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

// lineRef is how an error names its line.
var lineRef = regexp.MustCompile(`\bline [0-9]+\b`)

// withLine makes err name a line when the YAML library's does not: it
// leaves out the first line of the document (its marks count from 0 and
// 0 means unset), and a few of its errors carry no position at all.
func withLine(err error, data []byte) error {
	msg := err.Error()
	if lineRef.MatchString(msg) {
		return err
	}
	line := 1
	for _, p := range []struct{ pattern, prefix string }{
		{`unknown anchor '(.*)' referenced`, "*"},
		{`anchor '(.*)' value contains itself`, "&"},
	} {
		if m := regexp.MustCompile(p.pattern).FindStringSubmatch(msg); m != nil {
			if i := bytes.Index(data, []byte(p.prefix+m[1])); i >= 0 {
				line = 1 + bytes.Count(data[:i], []byte("\n"))
			}
		}
	}
	if strings.Contains(msg, "excessive aliasing") {
		if i := bytes.IndexByte(data, '*'); i >= 0 {
			line = 1 + bytes.Count(data[:i], []byte("\n"))
		}
	}
	return fmt.Errorf("line %d: %s", line, msg)
}

// checkText refuses what YAML does not allow in a document (invalid UTF-8,
// control characters other than tab, line feed and carriage return),
// naming the line, which the YAML library's reader does not.
func checkText(data []byte) error {
	line := 1
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return fmt.Errorf("line %d: invalid UTF-8 (byte %#02x at offset %d); the file must be UTF-8", line, data[i], i)
		case r == '\n':
			line++
		case r == '\t' || r == '\r' || r == 0x85 || r == 0xFEFF:
		case r < 0x20 || (r >= 0x7F && r < 0xA0) || (r >= 0xD800 && r <= 0xDFFF) || r == 0xFFFE || r == 0xFFFF:
			return fmt.Errorf("line %d: control character %U is not allowed", line, r)
		}
		i += n
	}
	return nil
}

// generatedID derives a stable Id from the entry, so invalidations stored
// under it are found again after a restart.
func generatedID(d *Distribution) string {
	sum := sha256.Sum256([]byte(d.Origin + "\x00" + strings.Join(d.Aliases, ",")))
	s := strings.ToUpper(new(big.Int).SetBytes(sum[:]).Text(36))
	return "E" + s[:13]
}
