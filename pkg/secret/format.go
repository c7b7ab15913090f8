package secret

import (
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"regexp"
)

// Prefixed tokens.
//
// A prefixed token is <prefix>_<body><check>:
//   - prefix: 2 to 16 characters of [a-z0-9], the first a letter
//     (ValidPrefix); it says whose token this is, to people and to secret
//     scanners;
//   - body: 43 base62 characters, the 32 random bytes (256 bits) read as one
//     big-endian integer and written in base62, most significant digit
//     first, padded with '0' to exactly 43 digits;
//   - check: 6 base62 characters, the CRC-32 (IEEE) of <prefix>_<body>
//     written the same way, so that a mistyped or truncated token is refused
//     without a database read.
//
// The base62 alphabet is 0-9A-Za-z, in ASCII order, so that comparing two
// fixed-width encodings as strings compares the numbers they encode.
//
// The body is a change of base of the random integer, not a choice of
// characters: no random value is reduced modulo 62, so there is no modulo
// bias, and every one of the 2^256 bodies is equally likely. 43 digits is
// the least width that holds every 256-bit value (62^42 < 2^256 <= 62^43);
// the 2% of 43-digit strings above 2^256-1 are never made and are refused.
const (
	// BodyLen is the length of a prefixed token's random part.
	BodyLen = 43
	// CheckLen is the length of a prefixed token's checksum.
	CheckLen = 6
	// PrefixMin and PrefixMax bound the length of a prefix.
	PrefixMin, PrefixMax = 2, 16
	// prefixedBytes is the randomness in a prefixed token.
	prefixedBytes = 32
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// maxBody is the encoding of 2^256-1, the greatest body.
var maxBody = func() string {
	var b [prefixedBytes]byte
	for i := range b {
		b[i] = 0xff
	}
	return string(encode256(b))
}()

// Format is the shape of the API tokens a gateway makes and accepts. The
// zero value, Hex, is 128 lowercase hex characters (Generate). A Format
// with a Prefix makes prefixed tokens and accepts both prefixed tokens with
// that prefix and hex tokens, so that switching a gateway to prefixed
// tokens leaves every token it has issued working.
type Format struct {
	// Prefix is the prefix of prefixed tokens; "" means hex tokens only.
	// A non-empty Prefix must satisfy ValidPrefix: Prefixed checks it,
	// and Generate refuses to make tokens with an invalid one.
	Prefix string
}

// Hex is the default format: 128 lowercase hex characters.
var Hex = Format{}

// Prefixed returns the format of tokens with the given prefix, or an
// error if the prefix is not valid (ValidPrefix).
func Prefixed(prefix string) (Format, error) {
	if err := ValidPrefix(prefix); err != nil {
		return Format{}, err
	}
	return Format{Prefix: prefix}, nil
}

// ValidPrefix reports why prefix cannot start prefixed tokens, or nil: it
// must be 2 to 16 characters of [a-z0-9], the first a letter. The rule
// keeps the prefix distinct from the body (which has upper case), from
// hex tokens (which cannot contain '_') and from JWTs (which need dots).
func ValidPrefix(prefix string) error {
	if len(prefix) < PrefixMin || len(prefix) > PrefixMax {
		return fmt.Errorf("token prefix %q must be %d to %d characters", prefix, PrefixMin, PrefixMax)
	}
	if c := prefix[0]; c < 'a' || c > 'z' {
		return fmt.Errorf("token prefix %q must start with a lowercase letter", prefix)
	}
	for i := 1; i < len(prefix); i++ {
		if c := prefix[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return fmt.Errorf("token prefix %q may hold only lowercase letters and digits", prefix)
		}
	}
	return nil
}

// IsPrefixed reports whether f makes prefixed tokens.
func (f Format) IsPrefixed() bool { return f.Prefix != "" }

// String names the format: "hex" or "prefixed (<prefix>_)".
func (f Format) String() string {
	if !f.IsPrefixed() {
		return "hex"
	}
	return "prefixed (" + f.Prefix + "_)"
}

// Len is the length of a token f makes.
func (f Format) Len() int {
	if !f.IsPrefixed() {
		return Len
	}
	return len(f.Prefix) + 1 + BodyLen + CheckLen
}

// Generate returns a new token in format f with randomness from r (nil
// means crypto/rand): Generate(r) for Hex, else <prefix>_ + 43 base62
// characters of 256 random bits + a 6-character base62 CRC-32 of what
// precedes it.
func (f Format) Generate(r io.Reader) (string, error) {
	if !f.IsPrefixed() {
		return Generate(r)
	}
	if err := ValidPrefix(f.Prefix); err != nil {
		return "", fmt.Errorf("secret: %w", err)
	}
	if r == nil {
		r = rand.Reader
	}
	var b [prefixedBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("secret: read random bytes: %w", err)
	}
	s := make([]byte, 0, f.Len())
	s = append(s, f.Prefix...)
	s = append(s, '_')
	s = append(s, encode256(b)...)
	s = appendCheck(s, crc32.ChecksumIEEE(s))
	return string(s), nil
}

// Kind is what a presented credential is, as Format.Classify judges it.
type Kind int

// Kinds of credential.
const (
	// Malformed is neither a hex token nor a prefixed token of the
	// format: it is refused without a database read.
	Malformed Kind = iota
	// HexToken is 128 lowercase hex characters (WellFormed).
	HexToken
	// PrefixedToken is a prefixed token with the format's prefix, the
	// right length and alphabet and a matching checksum (CheckPrefixed).
	PrefixedToken
)

// Classify says what s is under format f: HexToken if it is WellFormed
// (in every format), PrefixedToken if f is prefixed and s passes
// CheckPrefixed with f's prefix, Malformed otherwise. Only HexToken and
// PrefixedToken are worth a database read. It does not allocate.
func (f Format) Classify(s string) Kind {
	switch {
	case WellFormed(s):
		return HexToken
	case f.IsPrefixed() && CheckPrefixed(s, f.Prefix) == nil:
		return PrefixedToken
	}
	return Malformed
}

// Reasons CheckPrefixed refuses a credential.
var (
	ErrPrefix   = errors.New("not the token prefix")
	ErrLength   = errors.New("wrong length for a prefixed token")
	ErrAlphabet = errors.New("character outside base62 in a prefixed token")
	ErrChecksum = errors.New("prefixed token checksum does not match")
)

// CheckPrefixed reports why s is not a prefixed token with prefix, or nil:
// ErrPrefix if s does not start with prefix and '_', ErrLength if the rest
// is not 49 characters, ErrAlphabet if the rest is not base62 or the body
// exceeds 256 bits, ErrChecksum if the last 6 characters are not the
// CRC-32 of the rest. A prefix longer than PrefixMax never matches; prefix
// is not otherwise validated. It does not allocate.
func CheckPrefixed(s, prefix string) error {
	n := len(prefix)
	if n > PrefixMax || len(s) <= n || s[:n] != prefix || s[n] != '_' {
		return ErrPrefix
	}
	rest := s[n+1:]
	if len(rest) != BodyLen+CheckLen {
		return ErrLength
	}
	for i := 0; i < len(rest); i++ {
		if digit(rest[i]) < 0 {
			return ErrAlphabet
		}
	}
	if rest[:BodyLen] > maxBody {
		return ErrAlphabet
	}
	var want [CheckLen]byte
	if string(appendCheck(want[:0], crcIEEE(s[:len(s)-CheckLen]))) != rest[BodyLen:] {
		return ErrChecksum
	}
	return nil
}

// Pattern returns a regular expression (RE2 and PCRE syntax) that matches
// the prefixed tokens with prefix wherever they stand in a text: the
// prefix, '_' and 49 base62 characters, with no letter, digit or '_'
// directly before or after. It cannot check the checksum; a secret scanner
// using it may report a near miss, never miss a token. It is what a GitHub
// secret scanning custom pattern needs.
func Pattern(prefix string) string {
	return `\b` + regexp.QuoteMeta(prefix) + `_[0-9A-Za-z]{` + fmt.Sprint(BodyLen+CheckLen) + `}\b`
}

// encode256 writes the 32-byte big-endian integer b in base62, BodyLen
// digits, most significant first: repeated long division by 62.
func encode256(b [prefixedBytes]byte) []byte {
	out := make([]byte, BodyLen)
	for i := BodyLen - 1; i >= 0; i-- {
		rem := 0
		for j := range b {
			cur := rem<<8 | int(b[j])
			b[j] = byte(cur / 62)
			rem = cur % 62
		}
		out[i] = base62[rem]
	}
	return out
}

// appendCheck appends sum in base62, CheckLen digits (62^6 > 2^32).
func appendCheck(dst []byte, sum uint32) []byte {
	var d [CheckLen]byte
	for i := CheckLen - 1; i >= 0; i-- {
		d[i] = base62[sum%62]
		sum /= 62
	}
	return append(dst, d[:]...)
}

// crcIEEE is crc32.ChecksumIEEE of s without converting s to []byte,
// which would allocate on every credential checked (the slice escapes into
// the package's assembly). Sixty bytes at most: a table lookup per byte.
func crcIEEE(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ crc>>8
	}
	return ^crc
}

// digit is the value of base62 character c, or -1.
func digit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'Z':
		return int(c-'A') + 10
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}
