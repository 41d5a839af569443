package config_test

import (
	"regexp"
	"testing"

	"github.com/openfront/openfront/internal/config"
)

// lineRef is how an error names the line at fault.
var lineRef = regexp.MustCompile(`\bline [0-9]+\b`)

// FuzzParse feeds Parse arbitrary documents: it must never panic, and a
// document it refuses gets an error that names a line.
//
//	go test -run x -fuzz FuzzParse -fuzztime 20s ./internal/config
func FuzzParse(f *testing.F) {
	for _, d := range [][]byte{
		doc(
			"api_addr: 127.0.0.1:9001",
			"edge_addr: :8080",
			"data_dir: /var/lib/openfront",
			"invalidation_delay: 90s",
			"distributions:",
			"  - id: EDFDVBD6EXAMPLE",
			"    origin: http://127.0.0.1:9000",
			"    aliases: [site.test, www.site.test]",
			"  - origin: https://origin.example.com/base",
			"credentials:",
			"  - access_key_id: AKIDEXAMPLE",
			"    secret_access_key: secret",
			"    distributions: [EDFDVBD6EXAMPLE]",
			"limits:",
			"  max_batch_paths: 100",
			"  max_in_progress_file_paths: 200",
			"  max_in_progress_wildcard_paths: 3",
		),
		doc("distributions:", "\t- id: E1"),
		doc("a: &a [*a, *a]", "b: *a"),
		doc("limits: {max_batch_paths: -1}"),
		doc("distributions: [{id: E1, origin: 'http://a b'}]"),
		doc("--- !!binary AAAA", "..."),
		[]byte("api_addr: \"\\x00\""),
		[]byte("\xff\xfe"),
		{},
	} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse(data)
		if err != nil {
			if c != nil {
				t.Errorf("Parse returned %+v with error %v", c, err)
			}
			if !lineRef.MatchString(err.Error()) {
				t.Errorf("error %q names no line", err)
			}
			return
		}
		if c == nil {
			t.Fatal("Parse returned neither a config nor an error")
		}
		for _, d := range c.Distributions {
			if d.OriginURL == nil || d.ID == "" {
				t.Errorf("distribution %+v accepted without an origin URL or Id", d)
			}
		}
	})
}
