package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"

	"github.com/openfront/openfront/internal/testutil"
	"github.com/openfront/openfront/internal/testutil/pgtest"
)

// TestPostgres runs serve on PostgreSQL (OPENFRONT_POSTGRES_URL): an
// invalidation created on one replica is read on another; with the
// database killed, CreateInvalidation answers 503 ServiceUnavailable with
// CloudFront's error body, and 201 again once it is back, without a
// restart; after kill -9 of both replicas everything answered 201 is
// there; the URL's password is never logged.
func TestPostgres(t *testing.T) {
	db := pgtest.NewDatabase(t)
	srv := pgtest.Get(t)
	// The test server trusts local connections: the password is only
	// there to be looked for in the logs.
	const password = "pw-never-logged-0xC0FFEE"
	url := strings.Replace(db, "postgres://postgres@", "postgres://postgres:"+password+"@", 1)
	env := []string{"OPENFRONT_POSTGRES_URL=" + url}
	a := startServer(t, options{env: env, args: []string{"--edge-name", "replica-a"}})
	b := startServer(t, options{env: env, args: []string{"--edge-name", "replica-b"}})
	ca, cb := a.client("", ""), b.client("", "")
	if !a.logged("kind=postgres") {
		t.Errorf("serve did not say it runs on PostgreSQL:\n%s", a.stderr)
	}

	var acked []string
	create := func(c *cloudfront.Client, ref string) error {
		out, err := c.CreateInvalidation(ctx(t), &cloudfront.CreateInvalidationInput{
			DistributionId: aws.String(distID), InvalidationBatch: batch(ref, "/pg/"+ref)})
		if err == nil {
			acked = append(acked, *out.Invalidation.Id)
		}
		return err
	}
	for i := range 5 {
		if err := create(ca, fmt.Sprint("a-", i)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := cb.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String(acked[0])})
	if err != nil || *got.Invalidation.Id != acked[0] {
		t.Fatalf("GetInvalidation on the other replica: %v", err)
	}
	// A replay on the other replica finds the same invalidation.
	replay, err := cb.CreateInvalidation(ctx(t), &cloudfront.CreateInvalidationInput{
		DistributionId: aws.String(distID), InvalidationBatch: batch("a-0", "/pg/a-0")})
	if err != nil || *replay.Invalidation.Id != acked[0] {
		t.Fatalf("replay on the other replica: %v", err)
	}

	if srv.Own() {
		if err := srv.Kill(); err != nil {
			t.Fatal(err)
		}
		expectErr(t, create(ca, "down-1"), "ServiceUnavailable", 503)
		expectErr(t, create(cb, "down-2"), "ServiceUnavailable", 503)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 30*time.Second, func() bool {
			err := create(ca, "back")
			if err != nil {
				expectErr(t, err, "ServiceUnavailable", 503)
			}
			return err == nil
		}, "CreateInvalidation to succeed once PostgreSQL is back")
	}
	if err := create(cb, "b-0"); err != nil {
		t.Fatal(err)
	}

	a.kill()
	b.kill()
	a.restart()
	list, err := a.client("", "").ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{
		DistributionId: aws.String(distID), MaxItems: aws.Int32(100)})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, s := range list.InvalidationList.Items {
		have[*s.Id] = true
	}
	for _, id := range acked {
		if !have[id] {
			t.Errorf("invalidation %s answered 201 is not listed after kill -9", id)
		}
	}
	for _, s := range []*server{a, b} {
		if strings.Contains(s.stderr.String(), password) {
			t.Errorf("the password is in serve's log:\n%s", s.stderr)
		}
	}
}
