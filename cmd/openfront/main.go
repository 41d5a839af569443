// Command openfront is a CloudFront-compatible CDN: the CloudFront API for
// invalidations, backed by a durable store.
//
//	openfront serve --config examples/openfront.yaml
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

const usage = `openfront: a CloudFront-compatible CDN in one binary

Usage:
  openfront serve [flags]     run the CloudFront API and an edge (see: openfront serve -h)
  openfront edge [flags]      run an edge alone, following a control plane (see: openfront edge -h)
  openfront version           print the version
`

// version, when set at build time with -ldflags "-X main.version=…",
// replaces the module version the build info reports.
var version = ""

// buildTime, when set with -ldflags "-X main.buildTime=…", is printed as
// when the binary was built (the build info has the commit's time, not
// the build's: builds are reproducible).
var buildTime = ""

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		os.Exit(runServe(os.Args[2:]))
	case "edge":
		os.Exit(runEdge(os.Args[2:]))
	case "version", "--version", "-v":
		fmt.Println(versionLine(version, buildTime, readBuildInfo()))
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "openfront: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
}

func readBuildInfo() *debug.BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return bi
}

// versionLine describes the build: the version (-ldflags -X main.version,
// else the module version: v1.2.3 from `go install …@v1.2.3`, a
// pseudo-version or "(devel)" from a checkout), then the VCS revision,
// its time and whether the tree had changes, as `go build` embeds them in
// a git checkout, and the Go version. Fields the build info lacks are
// left out; the Go version and platform always end it.
func versionLine(override, built string, bi *debug.BuildInfo) string {
	v := override
	var fields []string
	if bi != nil {
		if v == "" {
			v = bi.Main.Version
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if r := settings["vcs.revision"]; r != "" {
			rev := "revision " + r
			if settings["vcs.modified"] == "true" {
				rev += " (modified)"
			}
			fields = append(fields, rev)
		}
		if t := settings["vcs.time"]; t != "" {
			fields = append(fields, "committed "+t)
		}
	}
	if v == "" {
		v = "(unknown)" // built without module support
	}
	if built != "" {
		fields = append(fields, "built "+built)
	}
	goVersion := runtime.Version()
	if bi != nil && bi.GoVersion != "" {
		goVersion = bi.GoVersion
	}
	fields = append(fields, goVersion, runtime.GOOS+"/"+runtime.GOARCH)
	return "openfront " + v + ", " + strings.Join(fields, ", ")
}

// newLogger returns the logger of --log-format (text or json) and
// --log-level, writing to w.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text or json", format)
}
