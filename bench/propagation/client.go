package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cf "github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// origin serves every path as "v<version> <path>", cacheable for a day;
// a path's version is 1 until set.
type origin struct {
	mu  sync.RWMutex
	ver map[string]int
}

func newOrigin() *origin { return &origin{ver: map[string]int{}} }

func (o *origin) set(path string, v int) {
	o.mu.Lock()
	o.ver[path] = v
	o.mu.Unlock()
}

func body(path string, v int) string { return "v" + strconv.Itoa(v) + " " + path + "\n" }

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.RLock()
	v := o.ver[r.URL.Path]
	o.mu.RUnlock()
	if v == 0 {
		v = 1
	}
	b := body(r.URL.Path, v)
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Cache-Control", "max-age=86400")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	io.WriteString(w, b)
}

// viewer is an HTTP client of the edges.
type viewer struct{ c *http.Client }

func newViewer() *viewer {
	return &viewer{c: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 64, DisableCompression: true, IdleConnTimeout: 90 * time.Second,
	}}}
}

// get requests path from the edge at base with the distribution's Host.
func (v *viewer) get(base, path string) (status int, xcache, text string, err error) {
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		return 0, "", "", err
	}
	req.Host = host
	resp, err := v.c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Cache"), string(b), err
}

// warm makes path a cache hit of version want on the edge at base.
func (v *viewer) warm(base, path string, want int) error {
	var last string
	for try := 0; try < 10; try++ {
		status, xc, text, err := v.get(base, path)
		if err != nil {
			return err
		}
		if status == 200 && strings.HasPrefix(xc, "Hit") && text == body(path, want) {
			return nil
		}
		last = fmt.Sprintf("%d %q %q", status, xc, text)
		if status != 200 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return fmt.Errorf("%s%s never became a hit of version %d (last: %s)", base, path, want, last)
}

func newAPI(url string) *cf.Client {
	return cf.New(cf.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, keySecret, ""),
		BaseEndpoint: aws.String(url),
		HTTPClient: &http.Client{Transport: &http.Transport{
			MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
		}},
		RetryMaxAttempts: 1, // every failure is seen
	})
}

// createInvalidation invalidates path and returns the invalidation's Id.
func createInvalidation(api *cf.Client, path, ref string) (string, error) {
	out, err := api.CreateInvalidation(context.Background(), &cf.CreateInvalidationInput{
		DistributionId: aws.String(distID),
		InvalidationBatch: &types.InvalidationBatch{
			CallerReference: aws.String(ref),
			Paths:           &types.Paths{Quantity: aws.Int32(1), Items: []string{path}},
		},
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Invalidation.Id), nil
}

// polled is what a tight poll loop saw: when the first positive answer
// arrived, and the gap between it and the last negative one (or the
// loop's start), which bounds the measurement's resolution.
type polled struct {
	first time.Time
	gap   time.Duration
	polls int
	err   error
}

// pollUntil calls check every interval from start until it reports true,
// for at most timeout.
func pollUntil(start time.Time, interval, timeout time.Duration, check func() (bool, error)) polled {
	last := start
	var p polled
	for {
		ok, err := check()
		now := time.Now()
		p.polls++
		if ok {
			p.first, p.gap = now, now.Sub(last)
			return p
		}
		if now.Sub(start) > timeout {
			p.err = fmt.Errorf("not after %v (%d polls; last error: %v)", timeout, p.polls, err)
			return p
		}
		last = now
		time.Sleep(interval)
	}
}

// completed reports whether GetInvalidation says Completed.
func completed(api *cf.Client, id string) (bool, error) {
	out, err := api.GetInvalidation(context.Background(), &cf.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String(id)})
	if err != nil {
		return false, err
	}
	return aws.ToString(out.Invalidation.Status) == "Completed", nil
}
