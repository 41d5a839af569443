package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

func batch(ref string, paths ...string) *types.InvalidationBatch {
	return &types.InvalidationBatch{
		CallerReference: aws.String(ref),
		Paths:           &types.Paths{Quantity: aws.Int32(int32(len(paths))), Items: paths},
	}
}

func create(t *testing.T, c *cloudfront.Client, dist string, b *types.InvalidationBatch) (*cloudfront.CreateInvalidationOutput, error) {
	t.Helper()
	return c.CreateInvalidation(ctx(t), &cloudfront.CreateInvalidationInput{DistributionId: aws.String(dist), InvalidationBatch: b})
}

var invIDPattern = regexp.MustCompile(`^I[A-Z0-9]{13}$`)

func TestCreateGetList(t *testing.T) {
	s := startServer(t, options{args: []string{"--invalidation-delay", "1h"}})
	c := s.client("", "")
	before := time.Now().Add(-time.Second)
	out, err := create(t, c, distID, batch("ref-1", "/index.html", "/images/*"))
	if err != nil {
		t.Fatal(err)
	}
	inv := out.Invalidation
	if !invIDPattern.MatchString(*inv.Id) {
		t.Errorf("Id %q is not shaped like CloudFront's", *inv.Id)
	}
	if *inv.Status != "InProgress" {
		t.Errorf("Status = %q, want InProgress", *inv.Status)
	}
	if inv.CreateTime.Before(before) || inv.CreateTime.After(time.Now().Add(time.Second)) {
		t.Errorf("CreateTime %v is not now", inv.CreateTime)
	}
	if want := s.URL + "/2020-05-31/distribution/" + distID + "/invalidation/" + *inv.Id; *out.Location != want {
		t.Errorf("Location = %q, want %q", *out.Location, want)
	}
	if got := inv.InvalidationBatch; *got.CallerReference != "ref-1" || *got.Paths.Quantity != 2 || !slices.Equal(got.Paths.Items, []string{"/index.html", "/images/*"}) {
		t.Errorf("batch not echoed as sent: %+v", got)
	}

	g, err := c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: inv.Id})
	if err != nil {
		t.Fatal(err)
	}
	if *g.Invalidation.Id != *inv.Id || !g.Invalidation.CreateTime.Equal(*inv.CreateTime) || *g.Invalidation.Status != "InProgress" {
		t.Errorf("Get = %+v, want the created invalidation", g.Invalidation)
	}
	if !slices.Equal(g.Invalidation.InvalidationBatch.Paths.Items, []string{"/index.html", "/images/*"}) {
		t.Errorf("Get paths = %v", g.Invalidation.InvalidationBatch.Paths.Items)
	}

	l, err := c.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID)})
	if err != nil {
		t.Fatal(err)
	}
	il := l.InvalidationList
	if *il.Quantity != 1 || *il.MaxItems != 100 || *il.IsTruncated || *il.Marker != "" || il.NextMarker != nil {
		t.Errorf("list header = Quantity %d MaxItems %d IsTruncated %v Marker %q NextMarker %v", *il.Quantity, *il.MaxItems, *il.IsTruncated, *il.Marker, il.NextMarker)
	}
	if len(il.Items) != 1 || *il.Items[0].Id != *inv.Id || *il.Items[0].Status != "InProgress" {
		t.Errorf("list items = %+v", il.Items)
	}

	// Other distributions don't see it.
	l2, err := c.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String("E2OTHERDIST000")})
	if err != nil {
		t.Fatal(err)
	}
	if *l2.InvalidationList.Quantity != 0 || len(l2.InvalidationList.Items) != 0 {
		t.Errorf("other distribution lists %d", *l2.InvalidationList.Quantity)
	}
	_, err = c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String("E2OTHERDIST000"), Id: inv.Id})
	expectErr(t, err, "NoSuchInvalidation", 404)
}

func TestReplayReturnsOriginal(t *testing.T) {
	s := startServer(t, options{})
	c := s.client("", "")
	first, err := create(t, c, distID, batch("deploy-42", "/a", "/b"))
	if err != nil {
		t.Fatal(err)
	}
	// Same reference, same paths in another order: the same invalidation.
	again, err := create(t, c, distID, batch("deploy-42", "/b", "/a"))
	if err != nil {
		t.Fatal(err)
	}
	if *again.Invalidation.Id != *first.Invalidation.Id || !again.Invalidation.CreateTime.Equal(*first.Invalidation.CreateTime) {
		t.Errorf("replay gave %s, want %s", *again.Invalidation.Id, *first.Invalidation.Id)
	}
	// Same reference, other paths: refused.
	_, err = create(t, c, distID, batch("deploy-42", "/c"))
	msg := expectErr(t, err, "InvalidationBatchAlreadyExists", 409)
	if !strings.Contains(msg, "caller reference that was used for a previous invalidation batch") {
		t.Errorf("message %q", msg)
	}
	// The same reference on another distribution is independent.
	other, err := create(t, c, "E2OTHERDIST000", batch("deploy-42", "/c"))
	if err != nil {
		t.Fatal(err)
	}
	if *other.Invalidation.Id == *first.Invalidation.Id {
		t.Error("another distribution shared the invalidation")
	}
	l, err := c.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID)})
	if err != nil {
		t.Fatal(err)
	}
	if *l.InvalidationList.Quantity != 1 {
		t.Errorf("%d invalidations listed, want 1", *l.InvalidationList.Quantity)
	}
}

// Fifty identical requests racing create one invalidation.
func TestReplayRace(t *testing.T) {
	s := startServer(t, options{})
	c := s.client("", "")
	const n = 50
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out, err := create(t, c, distID, batch("same-ref", "/x", "/y/*"))
			errs[i] = err
			if err == nil {
				ids[i] = *out.Invalidation.Id
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("request %d got %s, request 0 got %s", i, ids[i], ids[0])
		}
	}
	l, err := c.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID)})
	if err != nil {
		t.Fatal(err)
	}
	if *l.InvalidationList.Quantity != 1 {
		t.Errorf("%d invalidations exist, want 1", *l.InvalidationList.Quantity)
	}
}

func TestBatchRules(t *testing.T) {
	s := startServer(t, options{})
	c := s.client("", "")
	long := "/" + strings.Repeat("a", 3999)
	paths := func(n int) []string {
		p := make([]string, n)
		for i := range p {
			p[i] = fmt.Sprintf("/file-%d.html", i)
		}
		return p
	}
	ok := []*types.InvalidationBatch{
		batch("ok-1", long),
		batch("ok-2", "/*"),
		batch("ok-3", "/images/*", "/a b.html", "/caf\u00e9.html", "/search?q=1"),
		batch("ok-5", "/dup", "/dup"),
		batch("ok-4", paths(3000)...), // last: it fills the in-progress limit until it completes
	}
	w := cloudfront.NewInvalidationCompletedWaiter(c, func(o *cloudfront.InvalidationCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 100*time.Millisecond
	})
	for _, b := range ok {
		out, err := create(t, c, "E2OTHERDIST000", b)
		if err != nil {
			t.Errorf("%s: %v", *b.CallerReference, err)
			continue
		}
		// Each must complete before the next: 3,000 paths fill the limit alone.
		if err := w.Wait(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String("E2OTHERDIST000"), Id: out.Invalidation.Id}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	mismatch := batch("q", "/a", "/b")
	mismatch.Paths.Quantity = aws.Int32(3)
	zeroQty := batch("q0")
	cases := []struct {
		name   string
		b      *types.InvalidationBatch
		code   string
		status int
	}{
		{"no leading slash", batch("r", "index.html"), "InvalidArgument", 400},
		{"star not last", batch("r", "/images/*.jpg"), "InvalidArgument", 400},
		{"two stars", batch("r", "/a**"), "InvalidArgument", 400},
		{"path too long", batch("r", long+"a"), "InvalidArgument", 400},
		{"control character", batch("r", "/a\x7fb"), "InvalidArgument", 400},
		{"empty caller reference", batch("", "/a"), "InvalidArgument", 400},
		{"no paths", zeroQty, "InvalidArgument", 400},
		{"quantity mismatch", mismatch, "InconsistentQuantities", 400},
		{"3001 paths", batch("big", paths(3001)...), "BatchTooLarge", 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := create(t, c, distID, tc.b)
			msg := expectErr(t, err, tc.code, tc.status)
			if tc.code == "InvalidArgument" && strings.HasPrefix(tc.name, "no leading") && msg != "Your request contains one or more invalid invalidation paths." {
				t.Errorf("message %q", msg)
			}
		})
	}
	_, err := create(t, c, "ENOSUCHDIST", batch("r", "/a"))
	if msg := expectErr(t, err, "NoSuchDistribution", 404); msg != "The specified distribution does not exist." {
		t.Errorf("message %q", msg)
	}
	// Nothing refused was recorded.
	l, err := c.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID)})
	if err != nil {
		t.Fatal(err)
	}
	if *l.InvalidationList.Quantity != 0 {
		t.Errorf("%d refused invalidations were recorded", *l.InvalidationList.Quantity)
	}
}

func TestInProgressLimits(t *testing.T) {
	s := startServer(t, options{args: []string{"--invalidation-delay", "1h"}})
	c := s.client("", "")
	for i := range 15 {
		if _, err := create(t, c, distID, batch(fmt.Sprint("w", i), fmt.Sprintf("/w%d/*", i))); err != nil {
			t.Fatalf("wildcard %d: %v", i, err)
		}
	}
	_, err := create(t, c, distID, batch("w15", "/w15/*"))
	if msg := expectErr(t, err, "TooManyInvalidationsInProgress", 400); msg != "Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations." {
		t.Errorf("message %q", msg)
	}
	// A replay of an accepted batch is not a new invalidation, so not refused.
	if _, err := create(t, c, distID, batch("w3", "/w3/*")); err != nil {
		t.Errorf("replay refused: %v", err)
	}
	// File paths are counted separately: 3,000 of them still fit.
	files := make([]string, 3000)
	for i := range files {
		files[i] = fmt.Sprintf("/f/%d", i)
	}
	if _, err := create(t, c, distID, batch("files", files...)); err != nil {
		t.Fatalf("3000 file paths: %v", err)
	}
	_, err = create(t, c, distID, batch("one-more", "/f/3000"))
	if msg := expectErr(t, err, "TooManyInvalidationsInProgress", 400); msg != "Processing your request will cause you to exceed the maximum number of in-progress invalidations." {
		t.Errorf("message %q", msg)
	}
	// Limits are per distribution.
	if _, err := create(t, c, "E2OTHERDIST000", batch("w", "/*")); err != nil {
		t.Errorf("other distribution refused: %v", err)
	}
}

func TestConfiguredLimits(t *testing.T) {
	s := startServer(t, options{
		config: defaultConfig + "limits:\n  max_batch_paths: 2\n  max_in_progress_file_paths: 3\n  max_in_progress_wildcard_paths: 1\n",
		args:   []string{"--invalidation-delay", "1h"},
	})
	c := s.client("", "")
	_, err := create(t, c, distID, batch("a", "/1", "/2", "/3"))
	expectErr(t, err, "BatchTooLarge", 413)
	if _, err := create(t, c, distID, batch("b", "/1", "/2")); err != nil {
		t.Fatal(err)
	}
	_, err = create(t, c, distID, batch("c", "/3", "/4"))
	expectErr(t, err, "TooManyInvalidationsInProgress", 400)
	if _, err := create(t, c, distID, batch("d", "/*")); err != nil {
		t.Fatal(err)
	}
	_, err = create(t, c, distID, batch("e", "/x*"))
	expectErr(t, err, "TooManyInvalidationsInProgress", 400)
}

func TestCompletionFreesLimits(t *testing.T) {
	s := startServer(t, options{
		config: defaultConfig + "limits:\n  max_in_progress_wildcard_paths: 1\n",
		args:   []string{"--invalidation-delay", "1500ms"},
	})
	c := s.client("", "")
	out, err := create(t, c, distID, batch("a", "/*"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = create(t, c, distID, batch("b", "/*"))
	expectErr(t, err, "TooManyInvalidationsInProgress", 400)
	g, err := c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: out.Invalidation.Id})
	if err != nil || *g.Invalidation.Status != "InProgress" {
		t.Fatalf("status right after create: %v %v", err, g)
	}
	w := cloudfront.NewInvalidationCompletedWaiter(c, func(o *cloudfront.InvalidationCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: out.Invalidation.Id}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := create(t, c, distID, batch("b", "/*")); err != nil {
		t.Errorf("after completion: %v", err)
	}
	l, err := c.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID)})
	if err != nil {
		t.Fatal(err)
	}
	if st := *l.InvalidationList.Items[1].Status; st != "Completed" {
		t.Errorf("list shows %s for the completed invalidation", st)
	}
}

func TestWaiterWithDefaultDelay(t *testing.T) {
	s := startServer(t, options{})
	c := s.client("", "")
	out, err := create(t, c, distID, batch("now", "/*"))
	if err != nil {
		t.Fatal(err)
	}
	w := cloudfront.NewInvalidationCompletedWaiter(c, func(o *cloudfront.InvalidationCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 100*time.Millisecond
	})
	got, err := w.WaitForOutput(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: out.Invalidation.Id}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Invalidation.Status != "Completed" {
		t.Errorf("status %s", *got.Invalidation.Status)
	}
}

func TestPagination(t *testing.T) {
	s := startServer(t, options{})
	c := s.client("", "")
	var created []string
	for i := range 7 {
		out, err := create(t, c, distID, batch(fmt.Sprint("p", i), fmt.Sprintf("/p%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, *out.Invalidation.Id)
	}
	slices.Reverse(created) // newest first
	var got []string
	pages := 0
	p := cloudfront.NewListInvalidationsPaginator(c, &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID), MaxItems: aws.Int32(3)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		il := page.InvalidationList
		if *il.MaxItems != 3 || int(*il.Quantity) != len(il.Items) {
			t.Errorf("page %d: MaxItems %d Quantity %d items %d", pages, *il.MaxItems, *il.Quantity, len(il.Items))
		}
		if *il.IsTruncated != (il.NextMarker != nil) {
			t.Errorf("page %d: IsTruncated %v NextMarker %v", pages, *il.IsTruncated, il.NextMarker)
		}
		if il.NextMarker != nil && *il.NextMarker != *il.Items[len(il.Items)-1].Id {
			t.Errorf("NextMarker %s is not the last Id on the page", *il.NextMarker)
		}
		for _, it := range il.Items {
			got = append(got, *it.Id)
		}
	}
	if pages != 3 || !slices.Equal(got, created) {
		t.Errorf("%d pages, ids %v, want 3 pages of %v", pages, got, created)
	}
	// Marker echoes the request; an unknown marker is refused.
	l, err := c.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID), Marker: aws.String(created[2]), MaxItems: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if *l.InvalidationList.Marker != created[2] || *l.InvalidationList.Items[0].Id != created[3] {
		t.Errorf("after marker: %+v", l.InvalidationList)
	}
	_, err = c.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID), Marker: aws.String("INOSUCHTHING00")})
	expectErr(t, err, "InvalidArgument", 400)
	_, err = c.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String("ENOSUCH")})
	expectErr(t, err, "NoSuchDistribution", 404)
	for _, bad := range []string{"abc", "0", "-1", "1001"} {
		resp := rawRequest(t, s, "GET", "/2020-05-31/distribution/"+distID+"/invalidation?MaxItems="+bad, "")
		if resp.status != 400 || resp.code != "InvalidArgument" {
			t.Errorf("MaxItems=%s: %d %s", bad, resp.status, resp.code)
		}
	}
}

type rawResponse struct {
	status int
	header http.Header
	body   string
	code   string
}

var codePattern = regexp.MustCompile(`<Code>([^<]*)</Code>`)

// rawRequest sends an unsigned request (the default server is in open mode).
func rawRequest(t *testing.T, s *server, method, path, body string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if m := codePattern.FindStringSubmatch(r.body); m != nil {
		r.code = m[1]
	}
	return r
}
