// Package keyvalue holds CloudFront KeyValueStores: a store's key-value
// pairs, the rules and quotas its data plane enforces, and the ARNs that
// name stores. A store travels as the typed Config of a
// resource.KeyValueStore resource, keys and all: a store is at most
// MaxStoreBytes, so one compare-and-swap of its record is an atomic
// UpdateKeys on every storage backend, and the record's ETag is the
// store's version.
package keyvalue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// CloudFront's quotas on KeyValueStores (its "Quotas on key value stores").
const (
	// MaxKeyBytes bounds a key.
	MaxKeyBytes = 512
	// MaxValueBytes bounds a value.
	MaxValueBytes = 1024
	// MaxStoreBytes bounds a store: the sum of its keys' and values'
	// lengths.
	MaxStoreBytes = 5 << 20
	// MaxStores is the account's quota of stores.
	MaxStores = 50
	// MaxUpdateKeys bounds the Puts and Deletes of one UpdateKeys.
	MaxUpdateKeys = 50
	// MaxUpdateBytes bounds the request body of one UpdateKeys.
	MaxUpdateBytes = 3 << 20
	// MaxCommentBytes bounds a store's comment (the API model's).
	MaxCommentBytes = 128
)

// Store is a KeyValueStore: its control-plane fields and its pairs.
type Store struct {
	Comment string
	// ETag is the control plane's version of the store (its Comment):
	// CloudFront's control plane and data plane have an ETag each, and a
	// key written does not change the control plane's. The data plane's
	// is the resource record's.
	ETag    string
	Created time.Time
	// Keys are the pairs; nil for an empty store.
	Keys map[string]string
}

// magic starts an encoded Store: its format's name and version.
const magic = "OFKV1\n"

// Decode reads a Store from its resource's Config (Encode's format).
func Decode(config []byte) (*Store, error) {
	b, ok := bytes.CutPrefix(config, []byte(magic))
	if !ok {
		return nil, errors.New("keyvalue: not an encoded store")
	}
	var s Store
	next := func() (string, bool) {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return "", false
		}
		v := string(b[w : w+int(n)])
		b = b[w+int(n):]
		return v, true
	}
	comment, ok1 := next()
	etag, ok2 := next()
	ms, w := binary.Varint(b)
	if !ok1 || !ok2 || w <= 0 {
		return nil, errors.New("keyvalue: a truncated store")
	}
	b = b[w:]
	count, w := binary.Uvarint(b)
	if w <= 0 || count > uint64(len(b)) {
		return nil, errors.New("keyvalue: a truncated store")
	}
	b = b[w:]
	s.Comment, s.ETag, s.Created = comment, etag, time.UnixMilli(ms).UTC()
	if count > 0 {
		s.Keys = make(map[string]string, count)
	}
	for range count {
		k, ok1 := next()
		v, ok2 := next()
		if !ok1 || !ok2 {
			return nil, errors.New("keyvalue: a truncated store")
		}
		s.Keys[k] = v
	}
	if len(b) != 0 {
		return nil, errors.New("keyvalue: bytes after the store")
	}
	return &s, nil
}

// Encode is the Config of a store's resource: length-prefixed strings,
// keys in order, which a 5 MB store reads and writes in a few
// milliseconds (JSON takes tens).
func (s *Store) Encode() []byte {
	n := len(magic) + 4*binary.MaxVarintLen64 + len(s.Comment) + len(s.ETag)
	for k, v := range s.Keys {
		n += len(k) + len(v) + 2*binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	b = append(b, magic...)
	b = binary.AppendUvarint(b, uint64(len(s.Comment)))
	b = append(b, s.Comment...)
	b = binary.AppendUvarint(b, uint64(len(s.ETag)))
	b = append(b, s.ETag...)
	b = binary.AppendVarint(b, s.Created.UnixMilli())
	b = binary.AppendUvarint(b, uint64(len(s.Keys)))
	for _, k := range s.SortedKeys() {
		v := s.Keys[k]
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// Size is the store's size as CloudFront counts it: the bytes of its
// keys and values.
func (s *Store) Size() int64 {
	var n int64
	for k, v := range s.Keys {
		n += int64(len(k) + len(v))
	}
	return n
}

// SortedKeys returns the store's keys in byte order, ListKeys' order.
func (s *Store) SortedKeys() []string {
	keys := make([]string, 0, len(s.Keys))
	for k := range s.Keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Error is a data-plane error: the JSON error type the SDKs parse, its
// HTTP status and message.
type Error struct {
	Status  int
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// The data plane's errors.
func validation(format string, a ...any) *Error {
	return &Error{400, "ValidationException", fmt.Sprintf(format, a...)}
}

// Conflict is a write whose If-Match is not the store's ETag.
func Conflict() *Error {
	return &Error{409, "ConflictException", "Pre-condition failed: the ETag does not match the current version of the key value store."}
}

// NotFound is an unknown store or key.
func NotFound(what string) *Error {
	return &Error{404, "ResourceNotFoundException", what + " was not found."}
}

// Quota is a write that would make the store larger than MaxStoreBytes.
func Quota(size int64) *Error {
	return &Error{402, "ServiceQuotaExceededException", fmt.Sprintf("The key value store would be %d bytes, more than the maximum of %d bytes.", size, MaxStoreBytes)}
}

// CheckKey checks a key against CloudFront's rules.
func CheckKey(k string) error {
	switch {
	case k == "":
		return validation("The key must not be empty.")
	case len(k) > MaxKeyBytes:
		return validation("The key is %d bytes long; the maximum is %d.", len(k), MaxKeyBytes)
	case !utf8.ValidString(k):
		return validation("The key must be UTF-8.")
	}
	return nil
}

// CheckValue checks a value against CloudFront's rules.
func CheckValue(v string) error {
	switch {
	case len(v) > MaxValueBytes:
		return validation("The value is %d bytes long; the maximum is %d.", len(v), MaxValueBytes)
	case !utf8.ValidString(v):
		return validation("The value must be UTF-8.")
	}
	return nil
}

// Pair is a key and its value.
type Pair struct{ Key, Value string }

// Apply puts puts and deletes deletes in s, all or nothing: an invalid
// key or value, a key both put and deleted, a delete of a key the store
// does not have when strictDelete, or a store larger than MaxStoreBytes
// leave s unchanged.
func (s *Store) Apply(puts []Pair, deletes []string, strictDelete bool) error {
	seen := make(map[string]bool, len(puts)+len(deletes))
	for _, p := range puts {
		if err := CheckKey(p.Key); err != nil {
			return err
		}
		if err := CheckValue(p.Value); err != nil {
			return err
		}
		if seen[p.Key] {
			return validation("The key %q appears more than once in the request.", p.Key)
		}
		seen[p.Key] = true
	}
	size := s.Size()
	for _, k := range deletes {
		if err := CheckKey(k); err != nil {
			return err
		}
		if seen[k] {
			return validation("The key %q appears more than once in the request.", k)
		}
		seen[k] = true
		v, ok := s.Keys[k]
		if !ok && strictDelete {
			return NotFound("The key")
		}
		if ok {
			size -= int64(len(k) + len(v))
		}
	}
	for _, p := range puts {
		if old, ok := s.Keys[p.Key]; ok {
			size -= int64(len(p.Key) + len(old))
		}
		size += int64(len(p.Key) + len(p.Value))
	}
	if size > MaxStoreBytes {
		return Quota(size)
	}
	if s.Keys == nil && len(puts) > 0 {
		s.Keys = make(map[string]string, len(puts))
	}
	for _, k := range deletes {
		delete(s.Keys, k)
	}
	for _, p := range puts {
		s.Keys[p.Key] = p.Value
	}
	return nil
}

// namePattern is the API model's KeyValueStoreName.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// ValidName reports whether name is a store name CloudFront accepts.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// ARN is the ARN of the store with the Id in the account.
func ARN(account, id string) string {
	return "arn:aws:cloudfront::" + account + ":key-value-store/" + id
}

// IDOfARN returns the store Id a KeyValueStore ARN names, whatever its
// account (openfront serves one).
func IDOfARN(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:cloudfront::")
	if !ok {
		return "", false
	}
	_, id, ok := strings.Cut(rest, ":key-value-store/")
	return id, ok && id != ""
}
