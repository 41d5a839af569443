package sigv4

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/big"
	"sync"
)

// AlgorithmV4A is Signature Version 4A's algorithm: the canonical request
// of Signature Version 4, signed with ECDSA over P-256 by a key derived
// from the secret access key, so that one signature holds in a set of
// regions.
const AlgorithmV4A = "AWS4-ECDSA-P256-SHA256"

// appendStringToSignV4A replaces the canonical request in b by SigV4A's
// string to sign for it: its scope is date/service/aws4_request.
func appendStringToSignV4A(b []byte, amzDate, day, service string) []byte {
	creq := sha256.Sum256(b)
	b = append(b[:0], AlgorithmV4A+"\n"...)
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, day...)
	b = append(b, '/')
	b = append(b, service...)
	b = append(b, "/aws4_request\n"...)
	return hex.AppendEncode(b, creq[:])
}

// DeriveV4AKey derives the ECDSA P-256 key of an access key pair as
// SigV4A specifies (NIST SP 800-108 counter-mode KDF with HMAC-SHA256,
// FIPS 186-4 B.4.2 candidate testing): the key the SDKs sign with, whose
// public half verifies their signatures.
func DeriveV4AKey(accessKeyID, secret string) *ecdsa.PrivateKey {
	curve := elliptic.P256()
	nMinus2 := new(big.Int).Sub(curve.Params().N, big.NewInt(2))
	inputKey := []byte("AWS4A" + secret)
	for counter := 1; counter <= 0xff; counter++ {
		// Fixed input: label 0x00 context(akid || counter) L(256 bits).
		var fixed bytes.Buffer
		fixed.WriteString(AlgorithmV4A)
		fixed.WriteByte(0)
		fixed.WriteString(accessKeyID)
		fixed.WriteByte(byte(counter))
		binary.Write(&fixed, binary.BigEndian, int32(256))
		h := hmac.New(sha256.New, inputKey)
		binary.Write(h, binary.BigEndian, int32(1))
		h.Write(fixed.Bytes())
		c := new(big.Int).SetBytes(h.Sum(nil))
		if c.Cmp(nMinus2) >= 0 {
			continue
		}
		d := c.Add(c, big.NewInt(1))
		k := &ecdsa.PrivateKey{D: d}
		k.PublicKey.Curve = curve
		k.PublicKey.X, k.PublicKey.Y = curve.ScalarBaseMult(d.FillBytes(make([]byte, 32)))
		return k
	}
	// The chance that 255 candidates all fail is about 2^-8000.
	panic("sigv4: no SigV4A key candidate")
}

// ecdsaKeyCache caches the public keys of access key pairs: deriving one
// takes a scalar multiplication.
type ecdsaKeyCache struct {
	mu   sync.Mutex
	keys map[[2]string]*ecdsa.PublicKey // guarded by mu
}

// verify reports whether sigHex is the hex of an ASN.1 ECDSA signature
// of sha256(stringToSign) by the key pair's derived key.
func (c *ecdsaKeyCache) verify(keyID, secret string, stringToSign []byte, sigHex string) bool {
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) > 80 {
		return false
	}
	k := [2]string{keyID, secret}
	c.mu.Lock()
	pub := c.keys[k]
	c.mu.Unlock()
	if pub == nil {
		pub = &DeriveV4AKey(keyID, secret).PublicKey
		k = [2]string{string([]byte(keyID)), secret} // keyID may be a transport buffer
		c.mu.Lock()
		if c.keys == nil || len(c.keys) >= maxCachedKeys {
			c.keys = map[[2]string]*ecdsa.PublicKey{}
		}
		c.keys[k] = pub
		c.mu.Unlock()
	}
	sum := sha256.Sum256(stringToSign)
	return ecdsa.VerifyASN1(pub, sum[:], sig)
}
