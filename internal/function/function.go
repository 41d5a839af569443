// Package function holds CloudFront Functions as the control plane stores
// them and edges run them: a function is one resource (kind
// resource.Function, Id and Name the function's name) with a DEVELOPMENT
// stage that UpdateFunction changes and a LIVE stage that PublishFunction
// copies from it. Edges run only the LIVE stage.
package function

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Stage names a function's stage as the API spells it.
type Stage string

// The stages of a function.
const (
	Development Stage = "DEVELOPMENT"
	Live        Stage = "LIVE"
)

// The runtimes CloudFront offers.
const (
	RuntimeJS1 = "cloudfront-js-1.0"
	RuntimeJS2 = "cloudfront-js-2.0"
)

// The event types a function association may name.
const (
	ViewerRequest  = "viewer-request"
	ViewerResponse = "viewer-response"
)

// Code is one stage of a function: its configuration and code.
type Code struct {
	Runtime string `json:"runtime"`
	Comment string `json:"comment,omitempty"`
	// KeyValueStoreARNs are the stores the function may read with
	// cf.kvs() (CloudFront allows one).
	KeyValueStoreARNs []string `json:"kvs,omitempty"`
	Code              []byte   `json:"code"`
	// ETag is the stage's version, as DescribeFunction returns it.
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"modified"`
}

// Function is a stored function: resource.Resource.Config of kind
// resource.Function.
type Function struct {
	Name        string    `json:"name"`
	Created     time.Time `json:"created"`
	Development Code      `json:"development"`
	// Live is nil until the function is first published.
	Live *Code `json:"live,omitempty"`
}

// Encode returns f as a resource's Config.
func (f Function) Encode() []byte {
	b, err := json.Marshal(f)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return b
}

// Decode reads a resource's Config.
func Decode(config []byte) (Function, error) {
	var f Function
	if err := json.Unmarshal(config, &f); err != nil {
		return Function{}, fmt.Errorf("function: decode: %w", err)
	}
	return f, nil
}

// ARN is the function's ARN in the given account.
func ARN(account, name string) string {
	return "arn:aws:cloudfront::" + account + ":function/" + name
}

// NameFromARN returns the function name an ARN names, and false when arn
// is not a CloudFront function ARN.
func NameFromARN(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:cloudfront::")
	if !ok {
		return "", false
	}
	_, name, ok := strings.Cut(rest, ":function/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

// Limits are CloudFront's quotas on functions; DefaultLimits are AWS's
// defaults.
type Limits struct {
	// MaxCodeBytes bounds a function's code (FunctionSizeLimitExceeded).
	MaxCodeBytes int
	// MaxFunctions bounds the functions of an account (TooManyFunctions).
	MaxFunctions int
	// MaxCommentChars bounds a function's Comment (InvalidArgument).
	MaxCommentChars int
	// MaxKeyValueStores bounds the KeyValueStores one function may read.
	MaxKeyValueStores int
}

// DefaultLimits: "Maximum size of a function" 10 KB, "Functions per AWS
// account" 100, a comment of 128 characters, one KeyValueStore per
// function (Quotas on CloudFront Functions).
var DefaultLimits = Limits{MaxCodeBytes: 10 * 1024, MaxFunctions: 100, MaxCommentChars: 128, MaxKeyValueStores: 1}

// Error is a rule violation named by CloudFront's error code.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// CloudFront's error codes for functions.
const (
	CodeInvalidArgument           = "InvalidArgument"
	CodeFunctionSizeLimitExceeded = "FunctionSizeLimitExceeded"
	CodeFunctionAlreadyExists     = "FunctionAlreadyExists"
	CodeNoSuchFunctionExists      = "NoSuchFunctionExists"
	CodeFunctionInUse             = "FunctionInUse"
	CodeTooManyFunctions          = "TooManyFunctions"
	CodeTestFunctionFailed        = "TestFunctionFailed"
	CodeUnsupportedOperation      = "UnsupportedOperation"
	CodePreconditionFailed        = "PreconditionFailed"
	CodeInvalidIfMatchVersion     = "InvalidIfMatchVersion"
)

// ValidName reports whether name is a function name: 1 to 64 of
// a-z A-Z 0-9 - _ (the service model's FunctionName).
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidKeyValueStoreARN reports whether arn names a KeyValueStore:
// arn:aws:cloudfront::<12 digits>:key-value-store/<36 of hex and ->
// (the service model's KeyValueStoreARN).
func ValidKeyValueStoreARN(arn string) bool {
	rest, ok := strings.CutPrefix(arn, "arn:aws:cloudfront::")
	if !ok || len(rest) < 12 {
		return false
	}
	for i := 0; i < 12; i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	id, ok := strings.CutPrefix(rest[12:], ":key-value-store/")
	if !ok || len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '-') {
			return false
		}
	}
	return true
}

// KeyValueStoreID returns the Id of the KeyValueStore an ARN names.
func KeyValueStoreID(arn string) string {
	_, id, _ := strings.Cut(arn, ":key-value-store/")
	return id
}

// Validate checks a function's name and a stage's configuration and code
// against CloudFront's rules and l, in CloudFront's order: the name, the
// runtime, the comment, the KeyValueStores, then the code's size.
func Validate(name string, c *Code, l Limits) error {
	if !ValidName(name) {
		return &Error{CodeInvalidArgument, "The function name must be 1 to 64 characters long and contain only letters, numbers, hyphens (-) and underscores (_)."}
	}
	if c.Runtime != RuntimeJS1 && c.Runtime != RuntimeJS2 {
		return &Error{CodeInvalidArgument, "The runtime " + quote(c.Runtime) + " is not supported: use " + RuntimeJS1 + " or " + RuntimeJS2 + "."}
	}
	if n := utf8.RuneCountInString(c.Comment); n > l.MaxCommentChars {
		return &Error{CodeInvalidArgument, fmt.Sprintf("The function comment is %d characters long; the maximum is %d.", n, l.MaxCommentChars)}
	}
	if len(c.KeyValueStoreARNs) > l.MaxKeyValueStores {
		return &Error{CodeInvalidArgument, fmt.Sprintf("A function can be associated with at most %d KeyValueStore.", l.MaxKeyValueStores)}
	}
	for _, arn := range c.KeyValueStoreARNs {
		if !ValidKeyValueStoreARN(arn) {
			return &Error{CodeInvalidArgument, "The KeyValueStoreARN " + quote(arn) + " is not valid."}
		}
		if c.Runtime == RuntimeJS1 {
			return &Error{CodeInvalidArgument, "KeyValueStore associations require the " + RuntimeJS2 + " runtime."}
		}
	}
	if len(c.Code) == 0 {
		return &Error{CodeInvalidArgument, "The parameter FunctionCode is required."}
	}
	if len(c.Code) > l.MaxCodeBytes {
		return &Error{CodeFunctionSizeLimitExceeded, fmt.Sprintf("The function is %d bytes; the maximum size of a function is %d bytes.", len(c.Code), l.MaxCodeBytes)}
	}
	return nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

// The values of FunctionSummary.Status.
const (
	// StatusUnpublished: the DEVELOPMENT stage, which edges never run.
	StatusUnpublished = "UNPUBLISHED"
	// StatusUnassociated: the LIVE stage, which no cache behavior names.
	StatusUnassociated = "UNASSOCIATED"
	// StatusDeployed: the LIVE stage, which a cache behavior names.
	StatusDeployed = "DEPLOYED"
)

// Stage returns the function's stage s, or nil when it has none (LIVE
// before the first publish).
func (f *Function) Stage(s Stage) *Code {
	if s == Live {
		return f.Live
	}
	return &f.Development
}

// StatusOf is a stage's FunctionSummary.Status: DEVELOPMENT is
// UNPUBLISHED; LIVE is DEPLOYED when a distribution associates the
// function, UNASSOCIATED otherwise.
func StatusOf(s Stage, associated bool) string {
	switch {
	case s != Live:
		return StatusUnpublished
	case associated:
		return StatusDeployed
	}
	return StatusUnassociated
}
