package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
)

// TestInvalidationRetention: with --invalidation-retention-count 3, a
// control plane killed -9 and restarted lists the newest 3 Completed
// invalidations of a distribution; an older one is NoSuchInvalidation and
// its CallerReference makes a new invalidation.
func TestInvalidationRetention(t *testing.T) {
	s := startServer(t, options{args: []string{"--invalidation-retention-count", "3"}})
	c := s.client("", "")
	var ids []string
	for i := range 6 {
		out, err := create(t, c, distID, batch(fmt.Sprint("ret-", i), "/r"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, *out.Invalidation.Id)
	}
	// Wait until every one is Completed (on disk).
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			g, err := c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String(id)})
			if err != nil {
				t.Fatal(err)
			}
			if *g.Invalidation.Status == "Completed" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still %s", id, *g.Invalidation.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	s.kill()
	s.restart()
	c = s.client("", "") // a new address
	l, err := c.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range l.InvalidationList.Items {
		got = append(got, *it.Id)
	}
	if want := []string{ids[5], ids[4], ids[3]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed after restart %v, want the newest three %v", got, want)
	}
	_, err = c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String(ids[0])})
	expectErr(t, err, "NoSuchInvalidation", 404)
	out, err := create(t, c, distID, batch("ret-0", "/r"))
	if err != nil {
		t.Fatal(err)
	}
	if *out.Invalidation.Id == ids[0] {
		t.Errorf("the CallerReference of a forgotten invalidation returned it again")
	}
}
