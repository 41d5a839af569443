package function

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	kvs := "arn:aws:cloudfront::123456789012:key-value-store/a1b2c3d4-5678-90ab-cdef-0123456789ab"
	ok := func() Code {
		return Code{Runtime: RuntimeJS2, Comment: "c", Code: []byte("function handler(e){return e.request}")}
	}
	cases := []struct {
		name, fn string
		change   func(c *Code)
		code     string
	}{
		{"valid", "ok_name-1", func(*Code) {}, ""},
		{"kvs", "f", func(c *Code) { c.KeyValueStoreARNs = []string{kvs} }, ""},
		{"code at the limit", "f", func(c *Code) { c.Code = []byte(strings.Repeat("x", 10240)) }, ""},
		{"empty name", "", func(*Code) {}, CodeInvalidArgument},
		{"long name", strings.Repeat("a", 65), func(*Code) {}, CodeInvalidArgument},
		{"name with a dot", "a.b", func(*Code) {}, CodeInvalidArgument},
		{"runtime", "f", func(c *Code) { c.Runtime = "nodejs20.x" }, CodeInvalidArgument},
		{"comment", "f", func(c *Code) { c.Comment = strings.Repeat("é", 129) }, CodeInvalidArgument},
		{"two stores", "f", func(c *Code) { c.KeyValueStoreARNs = []string{kvs, kvs} }, CodeInvalidArgument},
		{"store ARN", "f", func(c *Code) { c.KeyValueStoreARNs = []string{"arn:aws:cloudfront::123456789012:key-value-store/x"} }, CodeInvalidArgument},
		{"store on js-1.0", "f", func(c *Code) { c.Runtime = RuntimeJS1; c.KeyValueStoreARNs = []string{kvs} }, CodeInvalidArgument},
		{"no code", "f", func(c *Code) { c.Code = nil }, CodeInvalidArgument},
		{"code past the limit", "f", func(c *Code) { c.Code = []byte(strings.Repeat("x", 10241)) }, CodeFunctionSizeLimitExceeded},
	}
	for _, tc := range cases {
		c := ok()
		tc.change(&c)
		err := Validate(tc.fn, &c, DefaultLimits)
		var fe *Error
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.code != "" && (!errors.As(err, &fe) || fe.Code != tc.code):
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}

func TestARNs(t *testing.T) {
	arn := ARN("123456789012", "my-fn")
	if arn != "arn:aws:cloudfront::123456789012:function/my-fn" {
		t.Errorf("ARN %q", arn)
	}
	if name, ok := NameFromARN(arn); !ok || name != "my-fn" {
		t.Errorf("NameFromARN(%q) = %q %v", arn, name, ok)
	}
	for _, bad := range []string{"my-fn", "arn:aws:lambda:us-east-1:123456789012:function:f", "arn:aws:cloudfront::1:function/", "arn:aws:cloudfront::1:function/a/b"} {
		if _, ok := NameFromARN(bad); ok {
			t.Errorf("NameFromARN(%q) accepted", bad)
		}
	}
	if id := KeyValueStoreID("arn:aws:cloudfront::123456789012:key-value-store/a1b2"); id != "a1b2" {
		t.Errorf("KeyValueStoreID %q", id)
	}
}

func TestStatusOf(t *testing.T) {
	if StatusOf(Development, true) != "UNPUBLISHED" || StatusOf(Live, false) != "UNASSOCIATED" || StatusOf(Live, true) != "DEPLOYED" {
		t.Error("StatusOf")
	}
}
