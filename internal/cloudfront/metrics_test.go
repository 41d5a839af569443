package cloudfront_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/memory"
)

// recordMetrics records every count.
type recordMetrics struct {
	mu  sync.Mutex
	got []string // "Operation status"
}

func (m *recordMetrics) Request(op cloudfront.Operation, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, op.String()+" "+http.StatusText(status))
}

// TestMetricsByOperation sends requests of each kind through ServeHTTP
// and the fast path's ServeCreateInvalidation and checks each is counted
// once under its CloudFront operation and status; the fleet's /openfront/
// endpoints are not API requests.
func TestMetricsByOperation(t *testing.T) {
	const distID = "EMETRICSDIST01"
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := memory.New()
	origin, _ := url.Parse("http://127.0.0.1:9")
	dists, err := distribution.NewService(context.Background(), distribution.ServiceConfig{Store: store, Logger: quiet,
		FromFile: []*distribution.Distribution{distribution.FromFile(distID, origin, nil, "cloudfront.localhost", time.Now())}})
	if err != nil {
		t.Fatal(err)
	}
	defer dists.Close()
	svc := invalidation.NewService(invalidation.Config{Store: store, Distributions: dists.Registry(), Logger: quiet})
	defer svc.Close()
	m := &recordMetrics{}
	fleet := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	h := cloudfront.NewHandler(cloudfront.Config{Invalidations: svc, Distributions: dists, Logger: quiet, Fleet: fleet, Metrics: m})

	batch := `<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><CallerReference>r1</CallerReference><Paths><Items><Path>/a</Path></Items><Quantity>1</Quantity></Paths></InvalidationBatch>`
	inv := "/2020-05-31/distribution/" + distID + "/invalidation"
	arn := url.QueryEscape("arn:aws:cloudfront::000000000000:distribution/" + distID)
	for _, c := range []struct{ method, target, body string }{
		{"POST", inv, batch},
		{"POST", inv, "<nope"},
		{"GET", inv, ""},
		{"GET", inv + "/INOSUCHID00000", ""},
		{"GET", "/2020-05-31/distribution", ""},
		{"GET", "/2020-05-31/distribution/" + distID, ""},
		{"GET", "/2020-05-31/distribution/" + distID + "/config", ""},
		{"PATCH", "/2020-05-31/distribution/" + distID, ""},
		{"GET", "/2020-05-31/tagging?Resource=" + arn, ""},
		{"POST", "/2020-05-31/tagging?Operation=Untag&Resource=" + arn, "<TagKeys xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"/>"},
		{"GET", "/nothing", ""},
		{"GET", "/openfront/fleet/edges", ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, "http://127.0.0.1:4747"+c.target, strings.NewReader(c.body)))
	}
	a, _ := h.ServeCreateInvalidation(context.Background(), nil, distID, "127.0.0.1:4747", []byte(strings.ReplaceAll(batch, "r1", "r2")), nil)
	if a.Status != http.StatusCreated {
		t.Fatalf("ServeCreateInvalidation: %d %s", a.Status, a.Body)
	}
	h.BodyTooLarge("POST", inv)

	want := []string{
		"CreateInvalidation Created",
		"CreateInvalidation Bad Request",
		"ListInvalidations OK",
		"GetInvalidation Not Found",
		"ListDistributions OK",
		"GetDistribution OK",
		"GetDistributionConfig OK",
		"Unknown Method Not Allowed",
		"ListTagsForResource OK",
		"UntagResource Bad Request",
		"Unknown Not Found",
		"CreateInvalidation Created",
		"CreateInvalidation Request Entity Too Large",
	}
	if strings.Join(m.got, "\n") != strings.Join(want, "\n") {
		t.Errorf("counted\n%s\nwant\n%s", strings.Join(m.got, "\n"), strings.Join(want, "\n"))
	}
}
