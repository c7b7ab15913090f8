package secret_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/llmgw/apitokens/pkg/secret"
)

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		s, err := secret.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !secret.WellFormed(s) || seen[s] {
			t.Fatalf("secret %q malformed or repeated", s)
		}
		seen[s] = true
	}
	// Deterministic with an injected source: 64 bytes, hex-encoded.
	s, err := secret.Generate(bytes.NewReader(bytes.Repeat([]byte{0xab}, 64)))
	if err != nil || s != strings.Repeat("ab", 64) {
		t.Fatalf("Generate = %q, %v", s, err)
	}
	if _, err := secret.Generate(iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Fatal("a failing random source must be an error")
	}
	if _, err := secret.Generate(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Fatal("a short random source must be an error")
	}
}

func TestHash(t *testing.T) {
	sum := sha256.Sum256([]byte("abc"))
	if got := secret.Hash("abc"); got != hex.EncodeToString(sum[:]) || got != strings.ToLower(got) {
		t.Fatalf("Hash = %q", got)
	}
}

func TestWellFormed(t *testing.T) {
	good := strings.Repeat("0123456789abcdef", 8)
	for _, tc := range []struct {
		name string
		s    string
		ok   bool
	}{
		{"128 lowercase hex", good, true},
		{"127", good[:127], false},
		{"129", good + "a", false},
		{"upper case", strings.ToUpper(good), false},
		{"space inside", good[:10] + " " + good[11:], false},
		{"non-hex", good[:127] + "g", false},
		{"empty", "", false},
		{"multibyte", good[:126] + "é", false},
	} {
		if secret.WellFormed(tc.s) != tc.ok {
			t.Errorf("%s: WellFormed = %v", tc.name, !tc.ok)
		}
	}
}

func TestLegacyID(t *testing.T) {
	id := secret.LegacyID("YOUR_STRING_HERE")
	if !strings.HasPrefix(id, secret.LegacyPrefix) || len(id) != len(secret.LegacyPrefix)+16 || strings.Contains(id, "YOUR") {
		t.Fatalf("LegacyID = %q", id)
	}
	if id != secret.LegacyID("YOUR_STRING_HERE") || id == secret.LegacyID("other") {
		t.Fatal("LegacyID must be stable and distinguish values")
	}
}

// TestWellFormedMatchesReference: every byte value at every position of an
// otherwise valid secret is judged as the plain definition judges it.
func TestWellFormedMatchesReference(t *testing.T) {
	reference := func(s string) bool {
		if len(s) != secret.Len {
			return false
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
		return true
	}
	base := []byte(strings.Repeat("0123456789abcdef", 8))
	for pos := 0; pos < secret.Len; pos++ {
		for b := 0; b < 256; b++ {
			s := append([]byte(nil), base...)
			s[pos] = byte(b)
			if got, want := secret.WellFormed(string(s)), reference(string(s)); got != want {
				t.Fatalf("byte %#x at %d: WellFormed = %v, want %v", b, pos, got, want)
			}
		}
	}
}
