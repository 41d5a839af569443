// Package layering holds the test of the rule that dependencies point one
// way (docs/architecture.md): protocol → domain ← storage, edge and fleet;
// nothing below imports what sits above.
package layering

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/openfront/openfront/internal/"

// allowed lists, for each package (a prefix ending in "/" covers the
// packages below it), the openfront packages it may depend on, directly or
// not. Standard library and third-party packages are not checked, but for
// net/http where a package must not serve or speak HTTP.
var allowed = map[string][]string{
	// Leaves: they know nothing of openfront.
	"retry":               {},
	"sigv4":               {},
	"fastserve":           {},
	"config":              {},
	"testutil":            {},
	"testutil/moto":       {"sigv4"},
	"testutil/pgtest":     {},
	"cloudfront/xmlmodel": {},
	"accesslog":           {},
	// The domain.
	"invalidation": {"retry"},
	"resource":     {"retry"},
	// Distributions name functions by ARN (function.NameFromARN).
	"distribution": {"retry", "resource", "function"},
	"policy":       {"resource"},
	"originaccess": {"resource"},
	"function":     {"resource"},
	"signing":      {"resource"},
	"keyvalue":     {},
	// Runs functions' code: the engine and the function as stored.
	"function/runtime": {"function", "resource"},
	// The event log's vocabulary, shared by the fleet and the stores.
	"eventlog": {"invalidation", "retry"},
	// Storage: the domain and the event log, never the fleet, the edge or
	// the protocol.
	"store/": {"invalidation", "distribution", "resource", "function", "eventlog", "retry"},
	// The edge and the fleet sit on the domain.
	"edge":  {"invalidation", "distribution", "retry", "fastserve", "accesslog", "sigv4", "resource", "policy", "originaccess", "function", "signing", "keyvalue", "function/runtime"},
	"fleet": {"invalidation", "distribution", "retry", "eventlog", "sigv4", "resource", "policy", "originaccess", "function", "signing", "keyvalue"},
	// The protocol.
	"cloudfront":         {"invalidation", "distribution", "retry", "cloudfront/xmlmodel", "sigv4", "resource", "policy", "originaccess", "function", "signing", "keyvalue", "function/runtime"},
	"cloudfront/fastapi": {"cloudfront", "invalidation", "distribution", "retry", "cloudfront/xmlmodel", "sigv4", "fastserve", "resource", "policy", "originaccess", "function", "signing", "keyvalue", "function/runtime"},
	// Operating it: what it shows, it reads through the domain and the fleet.
	"console": {"invalidation", "distribution", "retry", "eventlog", "fleet", "sigv4", "resource", "policy", "originaccess", "function", "signing", "keyvalue"},
	"metrics": {"invalidation", "distribution", "retry", "eventlog", "fleet", "sigv4", "edge", "fastserve", "accesslog", "cloudfront", "cloudfront/xmlmodel", "resource", "policy", "originaccess", "function", "signing", "keyvalue", "function/runtime"},
}

// noHTTP are the packages that must not depend on net/http.
var noHTTP = []string{"invalidation", "distribution", "resource", "policy", "originaccess", "function", "function/runtime", "signing", "keyvalue", "eventlog", "store/", "retry", "config", "cloudfront/xmlmodel", "accesslog"}

func matches(rule, pkg string) bool {
	if strings.HasSuffix(rule, "/") {
		return strings.HasPrefix(pkg, rule)
	}
	return pkg == rule
}

// touchSources opens every Go file under internal/ and cmd/: go test
// caches a result until a file the test opened changes, and go list, which
// reads them, runs in another process that the cache does not see.
func touchSources(t *testing.T) {
	for _, root := range []string{"..", "../../cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			f, err := os.Open(path)
			if err == nil {
				f.Close()
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestDependenciesPointOneWay(t *testing.T) {
	touchSources(t)
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok || pkg == "layering" {
			continue
		}
		var rule string
		for r := range allowed {
			if matches(r, pkg) && len(r) > len(rule) {
				rule = r
			}
		}
		if rule == "" {
			t.Errorf("package %s has no rule: add it to allowed (and to docs/architecture.md)", pkg)
			continue
		}
		checked++
		for _, dep := range fields[1:] {
			if dep == "net/http" {
				for _, r := range noHTTP {
					if matches(r, pkg) {
						t.Errorf("%s depends on net/http", pkg)
					}
				}
			}
			d, ok := strings.CutPrefix(dep, module)
			if !ok {
				continue
			}
			ok = false
			for _, a := range allowed[rule] {
				if matches(a, d) || d == a {
					ok = true
				}
			}
			if !ok && !(strings.HasSuffix(rule, "/") && strings.HasPrefix(d, rule)) {
				t.Errorf("%s depends on %s, which it may not (rule %q allows %v)", pkg, d, rule, allowed[rule])
			}
		}
	}
	if checked < 15 {
		t.Errorf("only %d packages checked: is go list's output what this test expects?", checked)
	}
}
