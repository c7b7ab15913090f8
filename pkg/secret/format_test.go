package secret_test

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/llmgw/apitokens/pkg/secret"
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func lisa(t testing.TB) secret.Format {
	t.Helper()
	f, err := secret.Prefixed("lisa")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// base62 is the reference encoding: n in base62, width digits.
func base62(n *big.Int, width int) string {
	s := []byte(strings.Repeat("0", width))
	n = new(big.Int).Set(n)
	m := new(big.Int)
	for i := width - 1; i >= 0 && n.Sign() > 0; i-- {
		n.DivMod(n, big.NewInt(62), m)
		s[i] = alphabet[m.Int64()]
	}
	return string(s)
}

func TestGeneratePrefixed(t *testing.T) {
	f := lisa(t)
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		s, err := f.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != f.Len() || len(s) != len("lisa_")+49 || !strings.HasPrefix(s, "lisa_") {
			t.Fatalf("token %q: wrong shape", s)
		}
		rest := s[len("lisa_"):]
		if strings.Trim(rest, alphabet) != "" {
			t.Fatalf("token %q: characters outside base62", s)
		}
		if f.Classify(s) != secret.PrefixedToken || secret.CheckPrefixed(s, "lisa") != nil {
			t.Fatalf("token %q not classified as prefixed", s)
		}
		if seen[s] {
			t.Fatalf("token %q repeated", s)
		}
		seen[s] = true
	}
}

// TestGeneratePrefixedEncoding pins the encoding to its definition: the
// body is the 32 random bytes as a big-endian integer in base62, 43
// digits, and the check is the CRC-32 (IEEE) of what precedes it in
// base62, 6 digits.
func TestGeneratePrefixedEncoding(t *testing.T) {
	f := lisa(t)
	for _, b := range [][]byte{
		make([]byte, 32),
		bytes.Repeat([]byte{0xff}, 32),
		bytes.Repeat([]byte{0xab}, 32),
		append(make([]byte, 31), 61),
		append(make([]byte, 31), 62),
		[]byte("0123456789abcdef0123456789abcdef"),
	} {
		s, err := f.Generate(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		body := base62(new(big.Int).SetBytes(b), 43)
		head := "lisa_" + body
		check := base62(big.NewInt(int64(crc32.ChecksumIEEE([]byte(head)))), 6)
		if s != head+check {
			t.Errorf("bytes %x: token %q, want %q", b, s, head+check)
		}
	}
	// 43 digits is the least width for 256 bits.
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	if n := len(max.Text(62)); n != secret.BodyLen {
		t.Fatalf("2^256-1 has %d base62 digits, BodyLen is %d", n, secret.BodyLen)
	}
	if _, err := f.Generate(iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Fatal("a failing random source must be an error")
	}
	if _, err := f.Generate(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Fatal("a short random source must be an error")
	}
	if _, err := (secret.Format{Prefix: "Bad"}).Generate(nil); err == nil {
		t.Fatal("an invalid prefix must not make tokens")
	}
}

func TestHexFormatGeneratesHex(t *testing.T) {
	s, err := secret.Hex.Generate(nil)
	if err != nil || !secret.WellFormed(s) || secret.Hex.Len() != secret.Len || secret.Hex.IsPrefixed() {
		t.Fatalf("Hex.Generate = %q, %v", s, err)
	}
	if secret.Hex.String() != "hex" || lisa(t).String() != "prefixed (lisa_)" {
		t.Fatalf("String = %q, %q", secret.Hex.String(), lisa(t).String())
	}
}

func TestValidPrefix(t *testing.T) {
	for _, p := range []string{"lisa", "ab", "a1", "abcdefghijklmnop", "gw2"} {
		if err := secret.ValidPrefix(p); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	for _, p := range []string{"", "a", "abcdefghijklmnopq", "1abc", "Lisa", "li_sa", "li-sa", "li.sa", "lisa ", "lisé"} {
		if err := secret.ValidPrefix(p); err == nil {
			t.Errorf("%q: accepted", p)
		}
		if _, err := secret.Prefixed(p); err == nil {
			t.Errorf("Prefixed(%q): accepted", p)
		}
	}
}

// TestClassifyNearMisses: every damaged token is Malformed, and the
// reason is the one a person would need.
func TestClassifyNearMisses(t *testing.T) {
	f := lisa(t)
	good, err := f.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	hexTok, err := secret.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	// One character changed, anywhere after the prefix: the checksum
	// catches every substitution.
	for i := len("lisa_"); i < len(good); i++ {
		for _, c := range []byte(alphabet) {
			if c == good[i] {
				continue
			}
			s := good[:i] + string(c) + good[i+1:]
			if f.Classify(s) != secret.Malformed {
				t.Fatalf("position %d changed to %q: not refused", i, c)
			}
			if err := secret.CheckPrefixed(s, "lisa"); !errors.Is(err, secret.ErrChecksum) && !errors.Is(err, secret.ErrAlphabet) {
				t.Fatalf("position %d changed to %q: %v", i, c, err)
			}
		}
	}
	swapped := []byte(good)
	swapped[10], swapped[11] = swapped[11], swapped[10]
	overflow := "lisa_" + strings.Repeat("z", 43)
	overflow += base62(big.NewInt(int64(crc32.ChecksumIEEE([]byte(overflow)))), 6)
	for _, tc := range []struct {
		name, s string
		want    error // from CheckPrefixed with "lisa"
	}{
		{"wrong prefix", "lisb" + good[4:], secret.ErrPrefix},
		{"other gateway's prefix", "acme" + good[4:], secret.ErrPrefix},
		{"upper-case prefix", "LISA" + good[4:], secret.ErrPrefix},
		{"no underscore", "lisa-" + good[5:], secret.ErrPrefix},
		{"prefix only", "lisa_", secret.ErrLength},
		{"truncated", good[:len(good)-1], secret.ErrLength},
		{"check missing", good[:len(good)-6], secret.ErrLength},
		{"extra character", good + "a", secret.ErrLength},
		{"whitespace inside", good[:20] + " " + good[21:], secret.ErrAlphabet},
		{"underscore inside", good[:20] + "_" + good[21:], secret.ErrAlphabet},
		{"dot inside", good[:20] + "." + good[21:], secret.ErrAlphabet},
		{"body above 2^256 with a right checksum", overflow, secret.ErrAlphabet},
		{"two characters swapped", string(swapped), secret.ErrChecksum},
		{"hex token", hexTok, secret.ErrPrefix},
		{"empty", "", secret.ErrPrefix},
	} {
		if swapped[10] == swapped[11] && tc.name == "two characters swapped" {
			continue // swapping equal characters changes nothing
		}
		if got := f.Classify(tc.s); got != secret.Malformed && tc.s != hexTok {
			t.Errorf("%s: Classify = %v, want Malformed", tc.name, got)
		}
		if err := secret.CheckPrefixed(tc.s, "lisa"); !errors.Is(err, tc.want) {
			t.Errorf("%s: CheckPrefixed = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Hex tokens authenticate in both formats; prefixed ones only where
	// enabled; neither is damaged hex.
	for _, tc := range []struct {
		name string
		f    secret.Format
		s    string
		want secret.Kind
	}{
		{"hex in hex", secret.Hex, hexTok, secret.HexToken},
		{"hex in prefixed", f, hexTok, secret.HexToken},
		{"prefixed in prefixed", f, good, secret.PrefixedToken},
		{"prefixed in hex", secret.Hex, good, secret.Malformed},
		{"prefixed under another prefix", secret.Format{Prefix: "acme"}, good, secret.Malformed},
		{"upper-case hex", f, strings.ToUpper(hexTok), secret.Malformed},
		{"mixed-case hex", f, hexTok[:127] + "A", secret.Malformed},
		{"truncated hex", f, hexTok[:127], secret.Malformed},
		{"hex with prefix", f, "lisa_" + hexTok, secret.Malformed},
		{"jwt", f, "aaa.bbb.ccc", secret.Malformed},
	} {
		if got := tc.f.Classify(tc.s); got != tc.want {
			t.Errorf("%s: Classify = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	f := lisa(t)
	good, _ := f.Generate(nil)
	bad := good[:len(good)-1] + "x"
	if n := testing.AllocsPerRun(100, func() {
		if f.Classify(good) != secret.PrefixedToken || f.Classify(bad) != secret.Malformed {
			panic("misclassified")
		}
	}); n != 0 {
		t.Fatalf("Classify allocates %v times", n)
	}
}

func TestPattern(t *testing.T) {
	f := lisa(t)
	re := regexp.MustCompile(secret.Pattern("lisa"))
	for i := 0; i < 1000; i++ {
		s, err := f.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{s, "Authorization: Bearer " + s + "\n", `{"key":"` + s + `"}`, "KEY=" + s, "'" + s + "'"} {
			if got := re.FindString(text); got != s {
				t.Fatalf("in %q: found %q, want %q", text, got, s)
			}
		}
	}
	good, _ := f.Generate(nil)
	for _, miss := range []string{
		good[:len(good)-1],          // truncated
		good + "a",                  // extra character
		"x" + good,                  // prefix inside a longer word
		"_" + good,                  // ... or after an underscore
		"acme" + good[4:],           // another prefix
		"LISA" + good[4:],           // upper-case prefix
		good[:20] + "-" + good[21:], // not base62
		good[:20] + "_" + good[21:], // underscore inside
		strings.Repeat("ab", 64),    // hex token
	} {
		if re.MatchString(miss) {
			t.Errorf("%q: matched", miss)
		}
	}
	if secret.Pattern("gw2") != `\bgw2_[0-9A-Za-z]{49}\b` {
		t.Fatalf("Pattern = %q", secret.Pattern("gw2"))
	}
}

// FuzzClassify: whatever the input, Classify does not panic, and what it
// accepts as prefixed is exactly what the reference definition (decode the
// body with math/big, recompute the checksum) accepts, and what Pattern
// matches in full.
func FuzzClassify(f *testing.F) {
	fm := lisa(f)
	good, _ := fm.Generate(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	for _, s := range []string{"", "lisa_", good, good[:len(good)-1], good + "0", "LISA" + good[4:], strings.Repeat("ab", 64), "aaa.bbb.ccc"} {
		f.Add(s)
	}
	whole := regexp.MustCompile(`^` + secret.Pattern("lisa") + `$`)
	max := new(big.Int).Lsh(big.NewInt(1), 256)
	reference := func(s string) bool {
		if !strings.HasPrefix(s, "lisa_") || len(s) != len("lisa_")+49 || strings.Trim(s[5:], alphabet) != "" {
			return false
		}
		n := new(big.Int)
		for _, c := range s[5 : 5+43] {
			n.Mul(n, big.NewInt(62)).Add(n, big.NewInt(int64(strings.IndexRune(alphabet, c))))
		}
		head := s[:len(s)-6]
		return n.Cmp(max) < 0 && base62(big.NewInt(int64(crc32.ChecksumIEEE([]byte(head)))), 6) == s[len(s)-6:]
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := fm.Classify(s)
		if got, want := k == secret.PrefixedToken, reference(s); got != want {
			t.Fatalf("%q: prefixed = %v, reference says %v", s, got, want)
		}
		if k == secret.PrefixedToken && !whole.MatchString(s) {
			t.Fatalf("%q: prefixed but Pattern does not match it", s)
		}
		if (k == secret.HexToken) != secret.WellFormed(s) || secret.Hex.Classify(s) == secret.PrefixedToken {
			t.Fatalf("%q: Classify = %v", s, k)
		}
	})
}
