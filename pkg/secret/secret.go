// Package secret generates API token secrets and derives everything that may
// be stored or shown about them. The plain secret exists only in the create
// response; everything else sees Hash or LegacyID.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// Bytes is the amount of randomness in a secret.
const Bytes = 64

// Len is the length of an encoded secret: 128 lowercase hex characters.
const Len = 2 * Bytes

// Generate returns a new secret of 64 random bytes from r, hex-encoded.
// A nil r means crypto/rand.
func Generate(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [Bytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("secret: read random bytes: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Hash returns the lowercase hex SHA-256 of a secret: the table's partition
// key for that token.
func Hash(s string) string {
	sum := Sum(s)
	return hex.EncodeToString(sum[:])
}

// Sum returns the raw SHA-256 of a secret. It does not allocate for a
// well-formed secret, which keeps the authorization hot path (a cache keyed
// by the digest) cheap; Hash is its hex form.
func Sum(s string) [sha256.Size]byte {
	if len(s) <= Len {
		var buf [Len]byte
		n := copy(buf[:], s)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(s))
}

// WellFormed reports whether s has the exact shape of a secret: 128
// lowercase hex characters, as Generate makes them. Anything else (truncated,
// padded, whitespace inside, upper-cased) is refused before any database read.
func WellFormed(s string) bool {
	if len(s) != Len {
		return false
	}
	// Eight characters at a time (Len is a multiple of 8): this runs on
	// every authorization. Each byte b of x is checked for '0' <= b <= '9'
	// or 'a' <= b <= 'f' with carry-free byte-wise additions; the top bit
	// of every byte must be clear first so that no addition carries into
	// the next byte. TestWellFormedMatchesReference checks it against the
	// plain definition for every byte value at every position.
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	for i := 0; i+8 <= len(s); i += 8 {
		_ = s[i+7] // one bounds check for the eight loads below
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if x&tops != 0 {
			return false
		}
		digit := (x + (0x80-'0')*ones) &^ (x + (0x7f-'9')*ones)
		lower := (x + (0x80-'a')*ones) &^ (x + (0x7f-'f')*ones)
		if (digit|lower)&tops != tops {
			return false
		}
	}
	return true
}

// LegacyPrefix starts every legacy token id.
const LegacyPrefix = "legacy-"

// LegacyID is the public, non-secret identifier of a legacy (plain-text)
// item: "legacy-" and the first 16 hex characters of SHA-256 of the stored
// value. It lets an admin see and delete the item without the value ever
// leaving the table.
func LegacyID(storedValue string) string { return LegacyPrefix + Hash(storedValue)[:16] }
