// Package e2e drives the real openfront binary over HTTP with real AWS
// clients: processes are started, signalled and killed for real.
package e2e

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/smithy-go"

	"github.com/openfront/openfront/internal/testutil"
	"github.com/openfront/openfront/internal/testutil/pgtest"
)

// binary is the openfront executable built once for all tests.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	// Only the terraform tests call t.Parallel: their time is the
	// provider's fixed waits, not CPU, so all of them may overlap (unless
	// -test.parallel says otherwise).
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", "8")
	}
	if testing.Short() {
		// The end-to-end suite builds the binary (with -race) and drives
		// real processes: the full `go test ./...` runs it.
		fmt.Println("e2e: skipped with -short")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "openfront-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "openfront")
	// -buildvcs=true: the binary reports the checkout's revision, as a
	// `go build` in a clone does by default (TestVersion); the machine's
	// go env may turn it off. Without git it builds without.
	args := []string{"build", "-buildvcs=true", "-race", "-o", binary, "../cmd/openfront"}
	if os.Getenv("OPENFRONT_E2E_NORACE") != "" {
		args = slices.DeleteFunc(args, func(a string) bool { return a == "-race" })
	}
	build := exec.Command("go", args...)
	var out strings.Builder
	build.Stdout, build.Stderr = &out, &out
	if err := build.Run(); err != nil && strings.Contains(out.String(), "buildvcs") {
		args[1] = "-buildvcs=false"
		out.Reset()
		build = exec.Command("go", args...)
		build.Stdout, build.Stderr = &out, &out
		err = build.Run()
	}
	fmt.Fprint(os.Stderr, out.String())
	if build.ProcessState == nil || !build.ProcessState.Success() {
		fmt.Fprintln(os.Stderr, "building openfront failed")
		os.Exit(1)
	}
	code := m.Run()
	pgtest.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running openfront process.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	URL     string
	EdgeURL string // the viewer (edge) listener, http://127.0.0.1:PORT
	DataDir string
	args    []string
	env     []string
	stderr  *testutil.SyncBuffer
	exited  chan struct{}
	exitErr error
}

// options configure startServer.
type options struct {
	config  string   // YAML; a default with one distribution when empty
	args    []string // extra flags
	env     []string // extra environment
	dataDir string   // reused to restart on the same data
}

const distID = "EDFDVBD6EXAMPLE"

const defaultConfig = `distributions:
  - id: EDFDVBD6EXAMPLE
    origin: http://127.0.0.1:9
  - id: E2OTHERDIST000
    origin: http://127.0.0.1:9
`

// startServer starts openfront on a free port and waits until it listens.
func startServer(t *testing.T, o options) *server {
	t.Helper()
	if o.config == "" {
		o.config = defaultConfig
	}
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	cfgPath := filepath.Join(t.TempDir(), "openfront.yaml")
	if err := os.WriteFile(cfgPath, []byte(o.config), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--config", cfgPath, "--api-addr", "127.0.0.1:0", "--edge-addr", "127.0.0.1:0", "--data-dir", o.dataDir}, o.args...)
	s := &server{t: t, DataDir: o.dataDir, args: args, env: o.env}
	s.start()
	t.Cleanup(func() { s.kill() })
	return s
}

func (s *server) start() {
	t := s.t
	t.Helper()
	cmd := exec.Command(binary, s.args...)
	cmd.Env = append(os.Environ(), s.env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stderr = &testutil.SyncBuffer{}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	urlc, edgec, tried := make(chan string, 1), make(chan string, 1), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "openfront API listening on "); ok {
				urlc <- u
			}
			if u, ok := strings.CutPrefix(sc.Text(), "openfront edge listening on "); ok {
				edgec <- u
			}
			if strings.HasPrefix(sc.Text(), "try: ") {
				close(tried)
			}
		}
	}()
	go func() {
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	select {
	case s.URL = <-urlc:
	case <-s.exited:
		t.Fatalf("openfront exited before listening: %v\n%s", s.exitErr, s.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("openfront did not start listening\n%s", s.stderr)
	}
	// serve prints the edge's line (unless --no-edge) between the API's
	// and the "try:" line.
	select {
	case <-tried:
	case <-s.exited:
		t.Fatalf("openfront exited before it was ready: %v\n%s", s.exitErr, s.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("openfront did not finish starting\n%s", s.stderr)
	}
	select {
	case s.EdgeURL = <-edgec:
	default:
		s.EdgeURL = ""
	}
}

// kill sends SIGKILL and waits for the process to die.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
}

// stop sends SIGTERM and returns the exit error.
func (s *server) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return s.exitErr
	case <-time.After(60 * time.Second):
		s.t.Fatalf("openfront did not stop on SIGTERM\n%s", s.stderr)
		return nil
	}
}

// restart starts the same command again (same flags, same data dir).
func (s *server) restart() {
	s.start()
}

// client returns an aws-sdk-go-v2 CloudFront client for the server.
func (s *server) client(keyID, secret string) *cloudfront.Client {
	if keyID == "" {
		keyID, secret = "AKIDDUMMY", "dummy-secret"
	}
	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
	return cloudfront.NewFromConfig(cfg, func(o *cloudfront.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// apiErr returns the error code and HTTP status of an SDK error.
func apiErr(t *testing.T, err error) (code string, status int, message string) {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error, got success")
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("not an API error: %v", err)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), status, ae.ErrorMessage()
}

func expectErr(t *testing.T, err error, wantCode string, wantStatus int) string {
	t.Helper()
	code, status, msg := apiErr(t, err)
	if code != wantCode || status != wantStatus {
		t.Fatalf("got %s %d (%q), want %s %d", code, status, msg, wantCode, wantStatus)
	}
	return msg
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// logged waits up to ten seconds for substr to appear on the server's stderr.
func (s *server) logged(substr string) bool {
	for range 200 {
		if strings.Contains(s.stderr.String(), substr) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
