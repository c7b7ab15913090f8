// Package cursorseal seals list cursors so that they can be handed to API
// clients: a cursor is opaque (it names no token, hash or user), and one that
// was changed, forged, or issued for another listing does not open.
//
// Format: base64url without padding of
//
//	version (1 byte, 1) | nonce (12 random bytes) | AES-256-GCM(plaintext)
//
// The additional data of the seal is the version byte and the listing (mode
// and username, see Listing), so a cursor opens only for the listing that
// issued it. Random nonces keep a key safe for about 2^32 seals, far more
// pages than a token table is ever listed in.
package cursorseal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeySize is the size of a sealing key: AES-256.
const KeySize = 32

const (
	version   = 1
	nonceSize = 12 // the standard GCM nonce
	overhead  = 1 + nonceSize + 16
)

// Strict decoding: a character whose unused low bits are set is refused, so
// that no two cursor strings open to the same cursor.
var encoding = base64.RawURLEncoding.Strict()

// Sealer seals and opens cursors with one key. It is safe for concurrent
// use.
type Sealer struct{ aead cipher.AEAD }

// NewKey returns KeySize random bytes.
func NewKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // never fails (crypto/rand since Go 1.24)
	return k
}

// New returns a Sealer for key, which must be KeySize bytes.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("cursorseal: key of %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("cursorseal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("cursorseal: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Listing is the additional data that binds a cursor to one listing: mode
// names the kind of listing, username the user listed ("" for all). mode
// must not contain a NUL byte.
func Listing(mode, username string) []byte {
	return []byte(mode + "\x00" + username)
}

// Seal returns the cursor for plaintext in listing.
func (s *Sealer) Seal(plaintext, listing []byte) string {
	buf := make([]byte, 1+nonceSize, overhead+len(plaintext))
	buf[0] = version
	_, _ = rand.Read(buf[1:]) // never fails (crypto/rand since Go 1.24)
	buf = s.aead.Seal(buf, buf[1:1+nonceSize], plaintext, additional(listing))
	return encoding.EncodeToString(buf)
}

// Parse checks what can be checked without the key: length, encoding,
// version and size. maxLen bounds the cursor text. It returns the sealed
// bytes for Open.
func Parse(cursor string, maxLen int) ([]byte, error) {
	if len(cursor) > maxLen {
		return nil, errors.New("too long")
	}
	raw, err := encoding.DecodeString(cursor)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	if len(raw) <= overhead {
		return nil, errors.New("too short")
	}
	if raw[0] != version {
		return nil, errors.New("unknown version")
	}
	return raw, nil
}

// Open returns the plaintext of sealed (from Parse) if it was sealed with
// this key for this listing and not changed since.
func (s *Sealer) Open(sealed, listing []byte) ([]byte, error) {
	if len(sealed) <= overhead || sealed[0] != version {
		return nil, errors.New("malformed")
	}
	plain, err := s.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], additional(listing))
	if err != nil {
		return nil, errors.New("not sealed by this store for this listing")
	}
	return plain, nil
}

func additional(listing []byte) []byte {
	return append([]byte{version}, listing...)
}
