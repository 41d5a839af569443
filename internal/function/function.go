// Package function holds CloudFront Functions as the control plane stores
// them and edges run them: a function is one resource (kind
// resource.Function, Id and Name the function's name) with a DEVELOPMENT
// stage that UpdateFunction changes and a LIVE stage that PublishFunction
// copies from it. Edges run only the LIVE stage.
package function

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
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
