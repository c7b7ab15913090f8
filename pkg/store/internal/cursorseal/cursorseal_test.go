package cursorseal

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func mustNew(t *testing.T, key []byte) *Sealer {
	t.Helper()
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func open(s *Sealer, cursor string, listing []byte) ([]byte, error) {
	raw, err := Parse(cursor, 4096)
	if err != nil {
		return nil, err
	}
	return s.Open(raw, listing)
}

func TestRoundTrip(t *testing.T) {
	key := NewKey()
	s := mustNew(t, key)
	plain := []byte(`{"m":"all","k":{"token":"x"}}`)
	c := s.Seal(plain, Listing("all", ""))
	got, err := open(s, c, Listing("all", ""))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open = %q, %v; want %q", got, err, plain)
	}
	// Another Sealer with the same key (another process) opens it too.
	if got, err := open(mustNew(t, key), c, Listing("all", "")); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open with the same key = %q, %v", got, err)
	}
	if c2 := s.Seal(plain, Listing("all", "")); c2 == c {
		t.Error("two seals of one plaintext are equal; the nonce is not random")
	}
	if strings.Contains(c, "=") {
		t.Errorf("cursor %q is padded", c)
	}
}

func TestOpenRefuses(t *testing.T) {
	s := mustNew(t, NewKey())
	plain := []byte(`{"m":"user","u":"alice"}`)
	c := s.Seal(plain, Listing("user", "alice"))
	raw, _ := base64.RawURLEncoding.DecodeString(c)
	reenc := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

	cases := map[string]struct {
		cursor  string
		listing []byte
	}{
		"other user":              {c, Listing("user", "bob")},
		"user name prefix":        {c, Listing("user", "alic")},
		"all listing":             {c, Listing("all", "")},
		"mode and user shifted":   {c, Listing("usera", "lice")},
		"other key":               {mustNew(t, NewKey()).Seal(plain, Listing("user", "alice")), Listing("user", "alice")},
		"empty":                   {"", Listing("user", "alice")},
		"version only":            {reenc([]byte{version}), Listing("user", "alice")},
		"no ciphertext":           {reenc(raw[:overhead]), Listing("user", "alice")},
		"other version":           {reenc(append([]byte{2}, raw[1:]...)), Listing("user", "alice")},
		"padded":                  {c + "=", Listing("user", "alice")},
		"too long":                {strings.Repeat("A", 4097), Listing("user", "alice")},
		"truncated":               {reenc(raw[:len(raw)-1]), Listing("user", "alice")},
		"extended":                {reenc(append(append([]byte{}, raw...), 0)), Listing("user", "alice")},
		"standard base64 symbols": {strings.NewReplacer("-", "+", "_", "/").Replace(c) + "+/", Listing("user", "alice")},
	}
	for name, tc := range cases {
		if got, err := open(s, tc.cursor, tc.listing); err == nil {
			t.Errorf("%s: opened as %q", name, got)
		}
	}
	for i := range raw {
		for _, x := range []byte{0x01, 0x80} {
			b := append([]byte{}, raw...)
			b[i] ^= x
			if got, err := open(s, reenc(b), Listing("user", "alice")); err == nil {
				t.Errorf("byte %d ^ %#x: opened as %q", i, x, got)
			}
		}
	}
}

// TestStrictEncoding: the last character of an unpadded base64 string may
// carry unused bits; a lenient decoder would accept a changed character
// there as the same cursor.
func TestStrictEncoding(t *testing.T) {
	s := mustNew(t, NewKey())
	for n := 1; n <= 3; n++ { // plaintext sizes that leave unused bits
		c := s.Seal(bytes.Repeat([]byte("x"), n), Listing("all", ""))
		if len(c)%4 == 0 {
			continue
		}
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, c[len(c)-1])
		for d := 1; d < 4; d++ {
			changed := c[:len(c)-1] + string(alphabet[last^d])
			if _, err := open(s, changed, Listing("all", "")); err == nil {
				t.Errorf("cursor with its last character %q changed to %q opened", c[len(c)-1], changed[len(changed)-1])
			}
		}
	}
}

func TestNewRefusesKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a %d-byte key", n)
		}
	}
}
