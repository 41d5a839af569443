// Package moto runs moto (the AWS service emulator, in Python) in server
// mode for tests: a real S3-compatible server on 127.0.0.1 that, once
// EnforceAuth is called, verifies every request's SigV4 signature against
// the IAM access keys it holds (SignatureDoesNotMatch, 403, for a wrong
// secret) and the keys' policies.
package moto

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/sigv4"
)

// Server is a running moto server.
type Server struct {
	// URL is its endpoint, http://127.0.0.1:PORT.
	URL string
	cmd *exec.Cmd
}

// Available reports whether this machine has moto's server (python3 and
// the moto package with its server extras), and if not why.
func Available() (bool, string) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return false, "python3 is not on the PATH"
	}
	if out, err := exec.Command(py, "-c", "import moto.server, flask").CombinedOutput(); err != nil {
		return false, fmt.Sprintf("python3 cannot import moto's server (pip install 'moto[server]'): %v %s", err, bytes.TrimSpace(out))
	}
	return true, ""
}

var listening = regexp.MustCompile(`Running on (http://127\.0\.0\.1:\d+)`)

// Start starts a moto server on a free port of 127.0.0.1, with
// authentication off until EnforceAuth, and stops it when the test ends.
// It skips the test, saying why, when moto is not on the machine.
func Start(t testing.TB) *Server {
	t.Helper()
	if ok, why := Available(); !ok {
		t.Skipf("moto server not available: %s", why)
	}
	// Port 0: the server picks a free port and prints it.
	cmd := exec.Command("python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", "0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting moto: %v", err)
	}
	s := &Server{cmd: cmd}
	t.Cleanup(s.stop)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() { // read to the end, so the server never blocks on a full pipe
			if m := listening.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatal("moto exited before listening")
		}
		s.URL = u
	case <-time.After(60 * time.Second):
		t.Fatal("moto did not say where it listens within 60s")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto at %s does not answer: %v", s.URL, err)
		}
		time.Sleep(50 * time.Millisecond) // polling for readiness, with a deadline
	}
	return s
}

// stop kills the server's process group and waits for it.
func (s *Server) stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
}

// setupCreds sign the set-up requests made before EnforceAuth: moto does
// not check them then, but routes a request to its service by the
// signature's scope.
var setupCreds = sigv4.Credentials{AccessKeyID: "AKIDSETUP", SecretAccessKey: "setup"}

// do sends a set-up request and fails the test unless it succeeds.
func (s *Server) do(t testing.TB, r *http.Request) []byte {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("moto %s %s: %v", r.Method, r.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("moto %s %s: %s %s", r.Method, r.URL.Path, resp.Status, body)
	}
	return body
}

// iam calls an IAM action (query protocol).
func (s *Server) iam(t testing.TB, params url.Values) []byte {
	t.Helper()
	params.Set("Version", "2010-05-08")
	body := []byte(params.Encode())
	r, _ := http.NewRequest("POST", s.URL+"/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sigv4.Sign(r, body, setupCreds.AccessKeyID, setupCreds.SecretAccessKey, "us-east-1", "iam", time.Now())
	return s.do(t, r)
}

// CreateUser makes an IAM user allowed every S3 action and returns its new
// access key. Call it before EnforceAuth.
func (s *Server) CreateUser(t testing.TB, name string) sigv4.Credentials {
	t.Helper()
	s.iam(t, url.Values{"Action": {"CreateUser"}, "UserName": {name}})
	s.iam(t, url.Values{"Action": {"PutUserPolicy"}, "UserName": {name}, "PolicyName": {"s3"},
		"PolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`}})
	out := s.iam(t, url.Values{"Action": {"CreateAccessKey"}, "UserName": {name}})
	var resp struct {
		ID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
		Secret string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
	}
	if err := xml.Unmarshal(out, &resp); err != nil || resp.ID == "" || resp.Secret == "" {
		t.Fatalf("moto CreateAccessKey: %v %s", err, out)
	}
	return sigv4.Credentials{AccessKeyID: resp.ID, SecretAccessKey: resp.Secret}
}

// s3 sends an S3 request, path-style, signed with c.
func (s *Server) s3(t testing.TB, c sigv4.Credentials, method, path string, body []byte, header http.Header) []byte {
	t.Helper()
	r, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	for k, v := range header {
		r.Header[k] = v
	}
	sigv4.SignS3(r, c, "us-east-1", sigv4.PayloadHash(body), time.Now())
	return s.do(t, r)
}

// CreateBucket makes a bucket (in us-east-1). Call it before EnforceAuth.
func (s *Server) CreateBucket(t testing.TB, bucket string) {
	t.Helper()
	s.s3(t, setupCreds, "PUT", "/"+bucket, nil, nil)
}

// PutObject stores a private object (only signed requests of an allowed
// user get it). Call it before EnforceAuth.
func (s *Server) PutObject(t testing.TB, bucket, key, contentType string, body []byte) {
	t.Helper()
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	s.s3(t, setupCreds, "PUT", "/"+bucket+"/"+strings.TrimPrefix(key, "/"), body, h)
}

// PutPublicObject stores an object anyone may read (ACL public-read).
// Call it before EnforceAuth.
func (s *Server) PutPublicObject(t testing.TB, bucket, key, contentType string, body []byte) {
	t.Helper()
	h := http.Header{"X-Amz-Acl": {"public-read"}}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	s.s3(t, setupCreds, "PUT", "/"+bucket+"/"+strings.TrimPrefix(key, "/"), body, h)
}

// EnforceAuth turns authentication on: from now on every request must be
// signed by an access key moto holds, with its secret.
func (s *Server) EnforceAuth(t testing.TB) {
	t.Helper()
	r, _ := http.NewRequest("POST", s.URL+"/moto-api/reset-auth", strings.NewReader("0"))
	r.Header.Set("Content-Type", "text/plain") // read as the body, not a form
	s.do(t, r)
}
