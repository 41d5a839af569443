package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	settings := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-07T22:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	platform := ", go1.26.8, " + runtime.GOOS + "/" + runtime.GOARCH
	for _, c := range []struct {
		name, override, built string
		bi                    *debug.BuildInfo
		want                  string
	}{
		{"go install module@version", "", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			"openfront v1.2.3" + platform},
		{"go build in a checkout with changes", "", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261207220000-0123456789ab+dirty"}, Settings: settings},
			"openfront v0.0.0-20261207220000-0123456789ab+dirty, revision 0123456789abcdef0123456789abcdef01234567 (modified), committed 2026-12-07T22:00:00Z" + platform},
		{"-ldflags -X main.version and main.buildTime", "v9.9.9", "2026-12-08T00:00:00Z", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: settings[:2]},
			"openfront v9.9.9, revision 0123456789abcdef0123456789abcdef01234567, built 2026-12-08T00:00:00Z" + platform},
		{"go build without VCS stamping", "", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"openfront (devel)" + platform},
	} {
		if got := versionLine(c.override, c.built, c.bi); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
	if got := versionLine("", "", nil); !strings.HasPrefix(got, "openfront (unknown), go") {
		t.Errorf("without build info: %q", got)
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hello", "distribution", "E1", "n", 3)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("json log line %q: %v", buf.String(), err)
	}
	if line["level"] != "DEBUG" || line["msg"] != "hello" || line["distribution"] != "E1" || line["n"] != float64(3) {
		t.Errorf("json log line %v", line)
	}
	buf.Reset()
	if log, err = newLogger(&buf, "text", "warn"); err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	if s := buf.String(); !strings.Contains(s, "level=WARN msg=shown k=v") || strings.Contains(s, "hidden") {
		t.Errorf("text log %q", s)
	}
	if _, err := newLogger(&buf, "xml", "info"); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("--log-format xml: %v", err)
	}
	if _, err := newLogger(&buf, "json", "loud"); err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("--log-level loud: %v", err)
	}
}
