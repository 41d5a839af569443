package keyvalue

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"
)

func typeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Type
	}
	return ""
}

func TestApplyLimits(t *testing.T) {
	s := &Store{}
	if err := s.Apply([]Pair{{"a", "1"}, {"b", "22"}}, nil, false); err != nil {
		t.Fatal(err)
	}
	if s.Size() != 5 || len(s.Keys) != 2 {
		t.Fatalf("size %d, %d keys", s.Size(), len(s.Keys))
	}
	for _, c := range []struct {
		puts    []Pair
		deletes []string
		strict  bool
		want    string
	}{
		{puts: []Pair{{strings.Repeat("k", MaxKeyBytes+1), "v"}}, want: "ValidationException"},
		{puts: []Pair{{"", "v"}}, want: "ValidationException"},
		{puts: []Pair{{"k", strings.Repeat("v", MaxValueBytes+1)}}, want: "ValidationException"},
		{puts: []Pair{{"k", "\xff"}}, want: "ValidationException"},
		{puts: []Pair{{"k", "1"}, {"k", "2"}}, want: "ValidationException"},
		{puts: []Pair{{"a", "1"}}, deletes: []string{"a"}, want: "ValidationException"},
		{deletes: []string{"nope"}, strict: true, want: "ResourceNotFoundException"},
	} {
		if err := s.Apply(c.puts, c.deletes, c.strict); typeOf(err) != c.want {
			t.Errorf("%v %v: %v, want %s", c.puts, c.deletes, err, c.want)
		}
	}
	if s.Size() != 5 || s.Keys["a"] != "1" {
		t.Fatalf("a failed Apply changed the store: %v", s.Keys)
	}
	// Exactly at MaxKeyBytes and MaxValueBytes is allowed.
	if err := s.Apply([]Pair{{strings.Repeat("k", MaxKeyBytes), strings.Repeat("v", MaxValueBytes)}}, []string{"a"}, true); err != nil {
		t.Fatal(err)
	}
}

func TestApplyStoreQuota(t *testing.T) {
	s := &Store{}
	v := strings.Repeat("v", MaxValueBytes)
	// Fill to just under MaxStoreBytes with 1 KiB values on 8-byte keys.
	var puts []Pair
	for i := 0; s.Size()+int64(len(puts))*(8+MaxValueBytes) <= MaxStoreBytes-(8+MaxValueBytes); i++ {
		puts = append(puts, Pair{Key: fmt.Sprintf("%08d", i), Value: v})
	}
	if err := s.Apply(puts, nil, false); err != nil {
		t.Fatal(err)
	}
	size := s.Size()
	if err := s.Apply([]Pair{{"overflow", v}}, nil, false); typeOf(err) != "ServiceQuotaExceededException" {
		t.Fatalf("size %d + %d: %v", size, 8+MaxValueBytes, err)
	}
	// Replacing a value by one of the same size stays within the quota.
	if err := s.Apply([]Pair{{puts[0].Key, strings.Repeat("w", MaxValueBytes)}}, nil, false); err != nil {
		t.Fatal(err)
	}
	// Deleting in the same batch makes room.
	if err := s.Apply([]Pair{{"overflow", v}}, []string{puts[1].Key}, false); err != nil {
		t.Fatal(err)
	}
}

func TestARN(t *testing.T) {
	arn := ARN("123456789012", "8562a61f-caba-4845-9d99-b97d1a7e5d3c")
	if id, ok := IDOfARN(arn); !ok || id != "8562a61f-caba-4845-9d99-b97d1a7e5d3c" {
		t.Fatalf("%s: %q %v", arn, id, ok)
	}
	for _, bad := range []string{"", "arn:aws:cloudfront::1:function/x", "arn:aws:s3:::b", "arn:aws:cloudfront::1:key-value-store/"} {
		if _, ok := IDOfARN(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	s := &Store{Comment: "c ☃", ETag: "E123", Created: time.UnixMilli(1700000000123).UTC(), Keys: map[string]string{"b": "2", "a": "", "ключ": "значение"}}
	b := s.Encode()
	got, err := Decode(b)
	if err != nil || got.Comment != s.Comment || got.ETag != s.ETag || !got.Created.Equal(s.Created) || !maps.Equal(got.Keys, s.Keys) {
		t.Fatalf("%+v %v", got, err)
	}
	if e, err := Decode((&Store{}).Encode()); err != nil || len(e.Keys) != 0 {
		t.Fatalf("empty: %+v %v", e, err)
	}
	// Every truncation, and trailing bytes, is an error, never a panic.
	for i := range len(b) {
		if _, err := Decode(b[:i]); err == nil {
			t.Errorf("a store cut at %d of %d bytes decoded", i, len(b))
		}
	}
	if _, err := Decode(append(b, 0)); err == nil {
		t.Error("trailing bytes decoded")
	}
	// A huge count or length is refused without allocating it.
	if _, err := Decode([]byte(magic + "\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x01")); err == nil {
		t.Error("a huge count decoded")
	}
}
