package invalidation

import (
	"encoding/binary"
	"math/bits"
)

// IDCodec turns a store's sequence numbers into invalidation Ids shaped like
// CloudFront's ("I" and 13 characters of A-Z0-9, e.g. I2J0I21PCUYOIK) and
// back. The mapping is a keyed permutation of the 36^13 possible Ids, so
// consecutive sequence numbers give Ids that look random and reveal nothing
// of the order or count without the key, while a store can still go from an
// Id to its record without an index: Ids from distinct sequence numbers
// never collide, and Decode inverts Encode.
//
// The permutation is an unbalanced Feistel network over the digits: the
// number is split into a 6-digit and a 7-digit half (base 36) and each round
// adds a keyed hash of one half to the other, modulo its size. It is not
// meant as cryptography, only as a bijection that scrambles well.
type IDCodec struct {
	keys [idRounds]uint64
}

const (
	idRounds  = 8
	idDigits  = 13
	idHiRange = 2176782336  // 36^6: the high (first) 6 digits
	idLoRange = 78364164096 // 36^7: the low 7 digits
)

// NewIDCodec returns the codec for key (any length; a store keeps 16 random
// bytes with its data, so its Ids stay the same across restarts).
func NewIDCodec(key []byte) IDCodec {
	var c IDCodec
	var seed uint64 = 0x6f70656e66726f6e // "openfron"
	for len(key) > 0 {
		var b [8]byte
		n := copy(b[:], key)
		key = key[n:]
		seed = mix64(seed ^ binary.LittleEndian.Uint64(b[:]))
	}
	for i := range c.keys {
		seed = mix64(seed + 0x9e3779b97f4a7c15)
		c.keys[i] = seed
	}
	return c
}

// mix64 is the finalizer of SplitMix64: a fast bijective 64-bit scrambler.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (c IDCodec) round(i int, v uint64) uint64 {
	return mix64(v ^ c.keys[i])
}

// Encode returns the Id of sequence number seq.
func (c IDCodec) Encode(seq uint64) string {
	hi, lo := seq/idLoRange, seq%idLoRange // hi < 2^64/36^7 < 36^6
	for i := range idRounds {
		if i%2 == 0 {
			hi = (hi + c.round(i, lo)%idHiRange) % idHiRange
		} else {
			lo = (lo + c.round(i, hi)%idLoRange) % idLoRange
		}
	}
	var b [1 + idDigits]byte
	b[0] = 'I'
	for i := idDigits; i > 6; i-- {
		b[i] = idAlphabet[lo%36]
		lo /= 36
	}
	for i := 6; i > 0; i-- {
		b[i] = idAlphabet[hi%36]
		hi /= 36
	}
	return string(b[:])
}

// Decode returns the sequence number whose Id is id. ok is false when id is
// not shaped like an Id or names no sequence number (the Id was not made
// by Encode with this key, e.g. an older random Id).
func (c IDCodec) Decode(id string) (seq uint64, ok bool) {
	if len(id) != 1+idDigits || id[0] != 'I' {
		return 0, false
	}
	var hi, lo uint64
	for i := 1; i <= idDigits; i++ {
		d, ok := idDigit(id[i])
		if !ok {
			return 0, false
		}
		if i <= 6 {
			hi = hi*36 + d
		} else {
			lo = lo*36 + d
		}
	}
	for i := idRounds - 1; i >= 0; i-- {
		if i%2 == 0 {
			hi = (hi + idHiRange - c.round(i, lo)%idHiRange) % idHiRange
		} else {
			lo = (lo + idLoRange - c.round(i, hi)%idLoRange) % idLoRange
		}
	}
	h, l := bits.Mul64(hi, idLoRange)
	seq, carry := bits.Add64(l, lo, 0)
	if h != 0 || carry != 0 {
		return 0, false // beyond 2^64: no sequence number maps there
	}
	return seq, true
}

func idDigit(ch byte) (uint64, bool) {
	switch {
	case ch >= 'A' && ch <= 'Z':
		return uint64(ch - 'A'), true
	case ch >= '0' && ch <= '9':
		return uint64(26 + ch - '0'), true
	}
	return 0, false
}
