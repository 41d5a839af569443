// Package signing holds what signed URLs and signed cookies are checked
// against: public keys and key groups as the control plane stores them
// (resources of kinds resource.PublicKey and resource.KeyGroup), and the
// verification of a viewer's signed request against a behavior's trusted
// keys (verify.go), with CloudFront's policy language and its answers.
package signing

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/openfront/openfront/internal/resource"
)

// Limits CloudFront documents for public keys and key groups (the API
// reference's PublicKeyConfig and KeyGroupConfig, and its quotas).
const (
	MaxCommentLength = 128
	MaxNameLength    = 128
	// MaxCallerReferenceLength bounds a public key's CallerReference.
	MaxCallerReferenceLength = 128
	// MaxEncodedKeyBytes bounds a PEM public key: an RSA 2048 key is
	// about 450 bytes, a P-256 one 180.
	MaxEncodedKeyBytes = 4096
	// RSABits is the one RSA key size CloudFront accepts for signed URLs.
	RSABits = 2048
)

// PublicKey is a stored public key: resource.Resource.Config of kind
// resource.PublicKey. Only the comment may change once created.
type PublicKey struct {
	Name            string `json:"name"`
	CallerReference string `json:"caller_reference"`
	Comment         string `json:"comment,omitempty"`
	// EncodedKey is the key in PEM (SubjectPublicKeyInfo), as uploaded.
	EncodedKey string `json:"encoded_key"`
	// Created is when the key was uploaded (the API's CreatedTime).
	Created time.Time `json:"created"`
}

// KeyGroup is a stored key group: resource.Resource.Config of kind
// resource.KeyGroup.
type KeyGroup struct {
	Name    string `json:"name"`
	Comment string `json:"comment,omitempty"`
	// Keys are the Ids of the group's public keys, in the order given.
	Keys []string `json:"keys"`
}

// Encode returns v (a PublicKey or a KeyGroup) as a resource's Config.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return b
}

// DecodePublicKey reads a public key resource's Config.
func DecodePublicKey(config []byte) (PublicKey, error) {
	var k PublicKey
	if err := json.Unmarshal(config, &k); err != nil {
		return PublicKey{}, fmt.Errorf("signing: public key: %w", err)
	}
	return k, nil
}

// DecodeKeyGroup reads a key group resource's Config.
func DecodeKeyGroup(config []byte) (KeyGroup, error) {
	var g KeyGroup
	if err := json.Unmarshal(config, &g); err != nil {
		return KeyGroup{}, fmt.Errorf("signing: key group: %w", err)
	}
	return g, nil
}

func invalid(format string, args ...any) *resource.Error {
	return &resource.Error{Code: resource.CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// Validate checks a public key: a name, a caller reference, a comment of
// at most 128 characters and a key ParseKey accepts.
func (k *PublicKey) Validate() error {
	if err := checkName("public key", k.Name); err != nil {
		return err
	}
	switch n := utf8.RuneCountInString(k.CallerReference); {
	case n == 0:
		return invalid("The CallerReference of the public key cannot be empty.")
	case n > MaxCallerReferenceLength:
		return invalid("The CallerReference of the public key is longer than %d characters.", MaxCallerReferenceLength)
	}
	if utf8.RuneCountInString(k.Comment) > MaxCommentLength {
		return invalid("The comment cannot be longer than %d characters.", MaxCommentLength)
	}
	_, err := ParseKey(k.EncodedKey)
	return err
}

// Validate checks a key group's name, comment and that it names at least
// one key, each once. How many keys it may name is the API's quota.
func (g *KeyGroup) Validate() error {
	if err := checkName("key group", g.Name); err != nil {
		return err
	}
	if utf8.RuneCountInString(g.Comment) > MaxCommentLength {
		return invalid("The comment cannot be longer than %d characters.", MaxCommentLength)
	}
	if len(g.Keys) == 0 {
		return invalid("A key group must contain at least one public key.")
	}
	seen := map[string]bool{}
	for _, id := range g.Keys {
		if id == "" {
			return invalid("A public key Id in the key group is empty.")
		}
		if seen[id] {
			return invalid("The public key %s appears more than once in the key group.", id)
		}
		seen[id] = true
	}
	return nil
}

func checkName(what, name string) error {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return invalid("The name of the %s cannot be empty.", what)
	case n > MaxNameLength:
		return invalid("The name of the %s is longer than %d characters.", what, MaxNameLength)
	}
	return nil
}

// ParseKey reads a PEM public key (SubjectPublicKeyInfo, "PUBLIC KEY", or
// PKCS #1 "RSA PUBLIC KEY") and returns it when it is one CloudFront
// accepts for signed URLs: RSA 2048 or ECDSA P-256. Anything else is an
// InvalidArgument.
func ParseKey(encoded string) (any, error) {
	if len(encoded) > MaxEncodedKeyBytes {
		return nil, invalid("The public key is longer than %d bytes.", MaxEncodedKeyBytes)
	}
	block, _ := pem.Decode([]byte(encoded))
	if block == nil {
		return nil, invalid("The public key is not in PEM format.")
	}
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, invalid("The public key is a PEM %q block; it must be a PUBLIC KEY.", block.Type)
	}
	if err != nil {
		return nil, invalid("The public key cannot be read: it must be an RSA 2048 or ECDSA P-256 public key.")
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() != RSABits {
			return nil, invalid("The RSA public key is %d bits long; it must be %d.", k.N.BitLen(), RSABits)
		}
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, invalid("The ECDSA public key must be on the P-256 curve.")
		}
		return k, nil
	}
	return nil, invalid("The public key must be an RSA 2048 or ECDSA P-256 public key.")
}
