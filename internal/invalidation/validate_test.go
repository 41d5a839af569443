package invalidation_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/openfront/openfront/internal/invalidation"
)

const (
	msgInvalidPaths     = "Your request contains one or more invalid invalidation paths."
	msgTooManyPaths     = "Processing your request will cause you to exceed the maximum number of in-progress invalidations."
	msgTooManyWildcards = "Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations."
)

func batch(ref string, paths ...string) invalidation.Batch {
	return invalidation.Batch{CallerReference: ref, Paths: paths}
}

// wantCode checks that err is an *invalidation.Error with code and, when
// msg is not empty, exactly that message.
func wantCode(t *testing.T, err error, code, msg string) {
	t.Helper()
	var e *invalidation.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *invalidation.Error %s", err, code)
	}
	if e.Code != code {
		t.Errorf("code = %s (%q), want %s", e.Code, e.Message, code)
	}
	if msg != "" && e.Message != msg {
		t.Errorf("message = %q, want %q", e.Message, msg)
	}
}

// pathOf returns a path of n bytes, ending with end.
func pathOf(n int, end string) string {
	return "/" + strings.Repeat("a", n-1-len(end)) + end
}

func TestValidatePaths(t *testing.T) {
	l := invalidation.DefaultLimits
	good := []string{
		"/",
		"/index.html",
		"/*",
		"/images/*",
		"/images/logo*",
		"/a b/ü.png",
		"/path?query=string&x=1",
		"/%20encoded",
		"/~user/.hidden",
		pathOf(4000, ""),
		pathOf(4000, "*"),
	}
	for _, p := range good {
		if err := l.Validate(batch("ref", p)); err != nil {
			t.Errorf("Validate(%.40q, %d bytes) = %v, want ok", p, len(p), err)
		}
	}
	bad := []string{
		"",
		"index.html",
		"*",
		"images/*",
		" /a",
		"/images/*.jpg",
		"/*/a",
		"/**",
		"/a*b*",
		"/a\nb",
		"/a\tb",
		"/a\x00",
		"/a\x7f",
		pathOf(4001, ""),
		pathOf(4001, "*"),
		"/" + strings.Repeat("é", 2000), // 4001 bytes
	}
	for _, p := range bad {
		err := l.Validate(batch("ref", p))
		if err == nil {
			t.Errorf("Validate(%.40q, %d bytes) = ok, want InvalidArgument", p, len(p))
			continue
		}
		wantCode(t, err, invalidation.CodeInvalidArgument, msgInvalidPaths)
	}
	// One bad path spoils the batch.
	wantCode(t, l.Validate(batch("ref", "/a", "/b", "c", "/d")), invalidation.CodeInvalidArgument, msgInvalidPaths)
}

func TestValidatePathLengthIsConfigurable(t *testing.T) {
	l := invalidation.DefaultLimits
	l.MaxPathLength = 10
	if err := l.Validate(batch("ref", pathOf(10, ""))); err != nil {
		t.Errorf("10-byte path with MaxPathLength 10: %v", err)
	}
	wantCode(t, l.Validate(batch("ref", pathOf(11, ""))), invalidation.CodeInvalidArgument, msgInvalidPaths)
}

func TestValidateBatch(t *testing.T) {
	l := invalidation.DefaultLimits
	many := func(n int) []string {
		ps := make([]string, n)
		for i := range ps {
			ps[i] = fmt.Sprintf("/p%d", i)
		}
		return ps
	}

	err := l.Validate(invalidation.Batch{Paths: []string{"/a"}})
	wantCode(t, err, invalidation.CodeInvalidArgument, "")
	if !strings.Contains(err.Error(), "CallerReference") {
		t.Errorf("empty CallerReference: %q does not name CallerReference", err)
	}

	for _, paths := range [][]string{nil, {}} {
		err := l.Validate(invalidation.Batch{CallerReference: "ref", Paths: paths})
		wantCode(t, err, invalidation.CodeInvalidArgument, "")
		if !strings.Contains(err.Error(), "at least one") {
			t.Errorf("no paths: %q", err)
		}
	}

	if err := l.Validate(invalidation.Batch{CallerReference: "ref", Paths: many(3000)}); err != nil {
		t.Errorf("3000 paths: %v", err)
	}
	err = l.Validate(invalidation.Batch{CallerReference: "ref", Paths: many(3001)})
	wantCode(t, err, invalidation.CodeBatchTooLarge, "")
	if !strings.Contains(err.Error(), "3001") || !strings.Contains(err.Error(), "3000") {
		t.Errorf("3001 paths: %q should name the count and the maximum", err)
	}

	// 3000 wildcards are a valid batch; Admit is what refuses them.
	ws := many(3000)
	for i := range ws {
		ws[i] += "*"
	}
	if err := l.Validate(invalidation.Batch{CallerReference: "ref", Paths: ws}); err != nil {
		t.Errorf("3000 wildcard paths: %v", err)
	}

	// A custom batch size.
	small := l
	small.MaxBatchPaths = 2
	if err := small.Validate(batch("ref", "/a", "/b")); err != nil {
		t.Errorf("2 paths with MaxBatchPaths 2: %v", err)
	}
	wantCode(t, small.Validate(batch("ref", "/a", "/b", "/c")), invalidation.CodeBatchTooLarge, "")

	// Duplicates count.
	wantCode(t, small.Validate(batch("ref", "/a", "/a", "/a")), invalidation.CodeBatchTooLarge, "")
}

func TestAdmit(t *testing.T) {
	l := invalidation.DefaultLimits
	u := func(files, wildcards int) invalidation.Usage {
		return invalidation.Usage{FilePaths: files, WildcardPaths: wildcards}
	}
	tests := []struct {
		name            string
		inProgress, add invalidation.Usage
		wantMsg         string // "" admits
	}{
		{"empty", u(0, 0), u(1, 0), ""},
		{"files up to the limit", u(2999, 0), u(1, 0), ""},
		{"one batch of 3000 files", u(0, 0), u(3000, 0), ""},
		{"files over the limit", u(3000, 0), u(1, 0), msgTooManyPaths},
		{"files over by a batch", u(2000, 0), u(1001, 0), msgTooManyPaths},
		{"wildcards up to the limit", u(0, 14), u(0, 1), ""},
		{"one batch of 15 wildcards", u(0, 0), u(0, 15), ""},
		{"16 wildcards in one batch", u(0, 0), u(0, 16), msgTooManyWildcards},
		{"wildcards over the limit", u(0, 15), u(0, 1), msgTooManyWildcards},
		// The two limits are separate.
		{"files while wildcards are full", u(0, 15), u(3000, 0), ""},
		{"wildcards while files are full", u(3000, 0), u(0, 15), ""},
		{"both full, nothing added", u(3000, 15), u(0, 0), ""},
		{"files over, wildcards fine", u(3000, 0), u(1, 1), msgTooManyPaths},
		{"wildcards over, files fine", u(0, 15), u(1, 1), msgTooManyWildcards},
		// Usage above a lowered limit does not block the other kind.
		{"over files limit already, adding wildcards", u(5000, 0), u(0, 1), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := l.Admit(tc.inProgress, tc.add)
			if tc.wantMsg == "" {
				if err != nil {
					t.Errorf("Admit(%+v, %+v) = %v, want ok", tc.inProgress, tc.add, err)
				}
				return
			}
			wantCode(t, err, invalidation.CodeTooManyInvalidationsInProgress, tc.wantMsg)
		})
	}
}

// Fifteen one-wildcard batches are admitted one after another; the
// sixteenth is refused with the wildcard message, and file paths still go.
func TestAdmitFifteenWildcards(t *testing.T) {
	l := invalidation.DefaultLimits
	var inProgress invalidation.Usage
	for i := range 15 {
		b := batch(fmt.Sprint("ref", i), fmt.Sprintf("/dir%d/*", i))
		if err := l.Validate(b); err != nil {
			t.Fatal(err)
		}
		if err := l.Admit(inProgress, b.Usage()); err != nil {
			t.Fatalf("wildcard batch %d refused: %v", i+1, err)
		}
		inProgress = inProgress.Add(b.Usage())
	}
	err := l.Admit(inProgress, batch("ref16", "/dir16/*").Usage())
	wantCode(t, err, invalidation.CodeTooManyInvalidationsInProgress, msgTooManyWildcards)
	if !strings.Contains(err.Error(), "wildcard") {
		t.Errorf("%q does not say wildcard", err)
	}
	if err := l.Admit(inProgress, batch("files", "/a", "/b").Usage()); err != nil {
		t.Errorf("file paths with the wildcard limit reached: %v", err)
	}
	// One completes; a wildcard fits again.
	inProgress = inProgress.Sub(batch("ref0", "/dir0/*").Usage())
	if err := l.Admit(inProgress, batch("ref16", "/dir16/*").Usage()); err != nil {
		t.Errorf("wildcard after one completed: %v", err)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		paths []string
		want  invalidation.Usage
	}{
		{nil, invalidation.Usage{}},
		{[]string{"/a"}, invalidation.Usage{FilePaths: 1}},
		{[]string{"/*"}, invalidation.Usage{WildcardPaths: 1}},
		{[]string{"/a", "/b*", "/c/*", "/d", "/d"}, invalidation.Usage{FilePaths: 3, WildcardPaths: 2}},
	}
	for _, tc := range tests {
		if got := batch("ref", tc.paths...).Usage(); got != tc.want {
			t.Errorf("Usage(%q) = %+v, want %+v", tc.paths, got, tc.want)
		}
	}
	a, b := invalidation.Usage{FilePaths: 5, WildcardPaths: 2}, invalidation.Usage{FilePaths: 3, WildcardPaths: 1}
	if got := a.Add(b); got != (invalidation.Usage{FilePaths: 8, WildcardPaths: 3}) {
		t.Errorf("Add = %+v", got)
	}
	if got := a.Sub(b); got != (invalidation.Usage{FilePaths: 2, WildcardPaths: 1}) {
		t.Errorf("Sub = %+v", got)
	}
	if got := a.Add(b).Sub(b); got != a {
		t.Errorf("Add then Sub = %+v, want %+v", got, a)
	}
}

func TestSamePaths(t *testing.T) {
	tests := []struct {
		a, b []string
		want bool
	}{
		{nil, nil, true},
		{nil, []string{}, true},
		{[]string{"/a"}, []string{"/a"}, true},
		{[]string{"/a", "/b", "/c*"}, []string{"/c*", "/a", "/b"}, true},
		{[]string{"/a", "/a", "/b"}, []string{"/a", "/b", "/a"}, true},
		{[]string{"/a"}, []string{"/b"}, false},
		{[]string{"/a"}, []string{"/a", "/a"}, false},
		{[]string{"/a", "/a", "/b"}, []string{"/a", "/b", "/b"}, false},
		{[]string{"/a"}, []string{"/A"}, false},
		{[]string{"/a"}, []string{"/a "}, false},
		{[]string{"/a"}, nil, false},
	}
	for _, tc := range tests {
		a, b := batch("x", tc.a...), batch("y", tc.b...)
		aBefore, bBefore := slices.Clone(tc.a), slices.Clone(tc.b)
		if got := a.SamePaths(b); got != tc.want {
			t.Errorf("SamePaths(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := b.SamePaths(a); got != tc.want {
			t.Errorf("SamePaths(%q, %q) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
		if !slices.Equal(a.Paths, aBefore) || !slices.Equal(b.Paths, bBefore) {
			t.Errorf("SamePaths reordered its arguments: %q, %q", a.Paths, b.Paths)
		}
	}
}

func TestNewID(t *testing.T) {
	shape := regexp.MustCompile(`^I[A-Z0-9]{13}$`)
	seen := map[string]bool{}
	chars := map[rune]bool{}
	for range 10000 {
		id := invalidation.NewID()
		if !shape.MatchString(id) {
			t.Fatalf("NewID() = %q, want I and 13 upper-case letters and digits", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %s", id)
		}
		seen[id] = true
		for _, c := range id[1:] {
			chars[c] = true
		}
	}
	// Every letter and digit shows up: the alphabet is all used.
	if len(chars) != 36 {
		t.Errorf("10000 Ids use %d distinct characters, want 36", len(chars))
	}
}

func TestCodeOf(t *testing.T) {
	if got := invalidation.CodeOf(nil); got != "" {
		t.Errorf("CodeOf(nil) = %q", got)
	}
	if got := invalidation.CodeOf(errors.New("x")); got != "" {
		t.Errorf("CodeOf(plain) = %q", got)
	}
	if got := invalidation.CodeOf(invalidation.ErrNoSuchDistribution); got != invalidation.CodeNoSuchDistribution {
		t.Errorf("CodeOf(ErrNoSuchDistribution) = %q", got)
	}
	wrapped := fmt.Errorf("context: %w", invalidation.ErrNoSuchInvalidation)
	if got := invalidation.CodeOf(wrapped); got != invalidation.CodeNoSuchInvalidation {
		t.Errorf("CodeOf(wrapped) = %q", got)
	}
	e := &invalidation.Error{Code: "C", Message: "m"}
	if e.Error() != "C: m" {
		t.Errorf("Error() = %q", e.Error())
	}
}

func ExampleLimits_Validate() {
	limits := invalidation.DefaultLimits
	for _, b := range []invalidation.Batch{
		{CallerReference: "deploy-42", Paths: []string{"/index.html", "/assets/*"}},
		{CallerReference: "deploy-43", Paths: []string{"index.html"}},
		{CallerReference: "deploy-44", Paths: []string{"/assets/*.js"}},
		{CallerReference: "", Paths: []string{"/"}},
		{CallerReference: "deploy-45", Paths: make([]string, 3001)},
	} {
		if err := limits.Validate(b); err != nil {
			fmt.Printf("%s: %s\n", b.CallerReference, invalidation.CodeOf(err))
			continue
		}
		fmt.Printf("%s: ok, %+v\n", b.CallerReference, b.Usage())
	}
	// Output:
	// deploy-42: ok, {FilePaths:1 WildcardPaths:1}
	// deploy-43: InvalidArgument
	// deploy-44: InvalidArgument
	// : InvalidArgument
	// deploy-45: BatchTooLarge
}
