package sigv4

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A request signed by Sign passes Verify; one signed with another secret fails.
func TestSignVerifies(t *testing.T) {
	v := &Verifier{Service: "cloudfront", Secret: func(id string) (string, bool) { return "s3cret", id == "AKID" }}
	var got error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, r.ContentLength)
		r.Body.Read(body)
		_, got = v.Verify(r, body)
	}))
	defer srv.Close()
	for _, secret := range []string{"s3cret", "wrong"} {
		body := []byte(`{"pos": 42}`)
		req, _ := http.NewRequest("POST", srv.URL+"/openfront/v1/ack?name=edge-1&pos=42", strings.NewReader(string(body)))
		Sign(req, body, "AKID", secret, "us-east-1", "cloudfront", time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if (secret == "s3cret") != (got == nil) {
			t.Errorf("secret %s: Verify = %v", secret, got)
		}
	}
}
