package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/smithy-go"

	"github.com/openfront/openfront/internal/testutil"
)

// TestDiskFull runs openfront on a 2 MiB filesystem, fills it up and
// frees it again: it starts (the space it writes ahead shrinks to fit),
// CreateInvalidation answers 503 ServiceUnavailable while there is no
// space, 201 again once there is, without a restart, and after kill -9
// every invalidation answered 201 is there.
func TestDiskFull(t *testing.T) {
	mnt := testutil.MountTmpfs(t, 2<<20)
	s := startServer(t, options{
		config:  defaultConfig + "limits:\n  max_in_progress_file_paths: 1000000\n",
		dataDir: filepath.Join(mnt, "data"),
	})
	c := s.client("", "")
	// Invalidations of 50 paths of 200 bytes (≈ 20 KiB logged each, with
	// the fleet event): the space written ahead goes quickly.
	n := 0
	var acked []string
	create := func() error {
		n++
		paths := make([]string, 50)
		for i := range paths {
			paths[i] = fmt.Sprintf("/disk/%d/%d/%s", n, i, strings.Repeat("x", 200))
		}
		in := &cloudfront.CreateInvalidationInput{DistributionId: aws.String(distID), InvalidationBatch: batch(fmt.Sprint("disk-", n), paths...)}
		out, err := c.CreateInvalidation(ctx(t), in)
		for try := 0; try < 3 && err != nil; try++ {
			var ae smithy.APIError
			if errors.As(err, &ae) {
				break
			}
			// Not an answer (the client's connection failed under
			// load): the same request again, a replay if it was created.
			t.Logf("CreateInvalidation: %v; again", err)
			out, err = c.CreateInvalidation(ctx(t), in)
		}
		if err == nil {
			acked = append(acked, *out.Invalidation.Id)
		}
		return err
	}
	if err := create(); err != nil {
		t.Fatalf("CreateInvalidation on a 2 MiB disk: %v", err)
	}
	filler := testutil.FillDisk(t, mnt)
	var err error
	for range 1000 {
		if err = create(); err != nil {
			break
		}
	}
	msg := expectErr(t, err, "ServiceUnavailable", 503)
	t.Logf("%d invalidations created before the disk was full; then 503 %q", len(acked), msg)
	if !s.logged("no space left on device") {
		t.Errorf("the server did not log why writes fail:\n%s", s.stderr)
	}
	expectErr(t, create(), "ServiceUnavailable", 503)
	// Reads go on from what is on disk.
	if _, err := c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String(acked[0])}); err != nil {
		t.Errorf("GetInvalidation while the disk is full: %v", err)
	}
	if _, err := c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(distID)}); err != nil {
		t.Errorf("GetDistribution while the disk is full: %v", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, func() bool {
		err := create()
		if err != nil {
			expectErr(t, err, "ServiceUnavailable", 503)
		}
		return err == nil
	}, "CreateInvalidation to succeed after space was freed")
	for range 5 {
		if err := create(); err != nil {
			t.Fatalf("CreateInvalidation after space was freed: %v", err)
		}
	}

	s.kill()
	s.restart()
	c = s.client("", "")
	for _, id := range acked {
		if _, err := c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String(id)}); err != nil {
			t.Errorf("invalidation %s, answered 201, lost after kill -9: %v", id, err)
		}
	}
	t.Logf("all %d acknowledged invalidations there after kill -9 and restart", len(acked))
}

// TestFullDiskStartup: on a filesystem with no space left, serve with a
// new data directory exits saying why, not with a bare write error.
func TestFullDiskStartup(t *testing.T) {
	mnt := testutil.MountTmpfs(t, 256<<10)
	dataDir := filepath.Join(mnt, "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.FillDisk(t, mnt)
	cfg := filepath.Join(t.TempDir(), "openfront.yaml")
	os.WriteFile(cfg, []byte(defaultConfig), 0o600)
	out, err := exec.Command(binary, "serve", "--config", cfg, "--api-addr", "127.0.0.1:0", "--edge-addr", "127.0.0.1:0", "--data-dir", dataDir).CombinedOutput()
	if err == nil {
		t.Fatalf("started on a full disk:\n%s", out)
	}
	for _, want := range []string{"no space left on device", "bytes free", dataDir} {
		if !strings.Contains(string(out), want) {
			t.Errorf("startup error does not say %q:\n%s", want, out)
		}
	}
}
