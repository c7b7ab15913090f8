package auth_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
)

var lisaFormat = secret.Format{Prefix: "lisa"}

// formatFixture is the core fixture with a core for format and, beside
// the fixture's hex token, a stored prefixed token, prefixed.
type formatFixture struct {
	*fixture
	prefixed string
}

func newFormatFixture(t testing.TB, ttl time.Duration, format secret.Format) *formatFixture {
	t.Helper()
	f := newFixture(t, ttl)
	s, err := lisaFormat.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	f.tokens.put(store.Token{
		Hash: secret.Hash(s), UUID: "0b5d1f7e-2c4a-4e8b-9a61-3d2f5c7e8a90", Username: "carol",
		Groups: []string{"lisa-api-users"}, Expiration: f.clock.Now().Add(time.Hour).Unix(),
	})
	f.core = auth.NewCore(auth.Options{
		Tokens: f.tokens, JWT: f.jwt, Groups: groups, CacheTTL: ttl, Now: f.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)), TokenFormat: format,
	})
	return &formatFixture{fixture: f, prefixed: s}
}

// hashRecorder is a TokenReader that remembers the hashes it was asked for.
type hashRecorder struct {
	auth.TokenReader
	hashes []string
}

func (r *hashRecorder) GetByHash(ctx context.Context, hash string) (store.Token, error) {
	r.hashes = append(r.hashes, hash)
	return r.TokenReader.GetByHash(ctx, hash)
}

func TestPrefixedTokenIsLookedUpByItsHash(t *testing.T) {
	f := newFormatFixture(t, 0, lisaFormat)
	rec := &hashRecorder{TokenReader: f.tokens}
	core := auth.NewCore(auth.Options{Tokens: rec, Groups: groups, Now: f.clock.Now, TokenFormat: lisaFormat})
	p, err := core.Authenticate(context.Background(), hdr("Authorization", "Bearer "+f.prefixed))
	if err != nil {
		t.Fatalf("valid prefixed token refused: %v", err)
	}
	if p.Username != "carol" || p.AuthType != auth.AuthAPIToken || p.TokenUUID == "" || !p.IsAPIUser {
		t.Fatalf("principal = %+v", p)
	}
	if len(rec.hashes) != 1 || rec.hashes[0] != secret.Hash(f.prefixed) {
		t.Fatalf("looked up %q, want the SHA-256 of the whole token %q", rec.hashes, secret.Hash(f.prefixed))
	}
}

func TestBothFormatsAuthenticate(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name             string
		format           secret.Format
		hexOK, prefixOK  bool
		prefixedRefusal  string
		prefixedMessages []string
	}{
		{"hex", secret.Hex, true, false, "malformed_token", []string{"expected 128 lowercase hex characters"}},
		{"prefixed", lisaFormat, true, true, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFormatFixture(t, 0, tc.format)
			for _, cred := range []struct {
				s        string
				ok       bool
				username string
			}{{f.secret, tc.hexOK, "bob"}, {f.prefixed, tc.prefixOK, "carol"}} {
				for _, h := range []http.Header{hdr("Authorization", "Bearer "+cred.s), hdr("Api-Key", cred.s)} {
					before := f.tokens.reads.Load()
					p, err := f.core.Authenticate(ctx, h)
					reads := f.tokens.reads.Load() - before
					if cred.ok {
						if err != nil || p.Username != cred.username || reads != 1 {
							t.Fatalf("%s: Authenticate = %+v, %v after %d reads", cred.username, p, err, reads)
						}
						continue
					}
					if apierr.CodeOf(err) != tc.prefixedRefusal || apierr.Status(err) != http.StatusUnauthorized || reads != 0 {
						t.Fatalf("%s: err = %v (code %q) after %d reads, want %s with no read", cred.username, err, apierr.CodeOf(err), reads, tc.prefixedRefusal)
					}
					for _, want := range tc.prefixedMessages {
						if !strings.Contains(apierr.Message(err), want) {
							t.Errorf("message %q does not say %q", apierr.Message(err), want)
						}
					}
				}
			}
		})
	}
}

// TestMalformedPrefixedTokensCostNoRead: a damaged prefixed token is
// refused like any malformed credential (401, malformed_token, logged with
// that reason) before the store is asked, and the message says what is
// wrong without repeating it.
func TestMalformedPrefixedTokensCostNoRead(t *testing.T) {
	f := newFormatFixture(t, time.Minute, lisaFormat)
	ctx := context.Background()
	good := f.prefixed
	flip := func(i int) string {
		c := byte('A')
		if good[i] == 'A' {
			c = 'B'
		}
		return good[:i] + string(c) + good[i+1:]
	}
	for _, tc := range []struct {
		name, cred string
		msg        string
	}{
		{"typo in the body", flip(10), "checksum does not match"},
		{"typo in the first body character", flip(5), ""},
		{"typo in the checksum", flip(len(good) - 1), "checksum does not match"},
		{"truncated", good[:len(good)-1], "53 characters, expected 54: truncated?"},
		{"extra character", good + "x", "55 characters, expected 54"},
		{"whitespace inside", good[:20] + " " + good[21:], "whitespace"},
		{"not base62", good[:20] + "-" + good[21:], "characters a lisa_ token cannot hold"},
		{"another gateway's prefix", "acme" + good[4:], "prefix is not lisa_"},
		{"upper-case prefix", "LISA" + good[4:], ""},
		{"prefix alone", "lisa_", "5 characters"},
		{"upper-case hex", strings.ToUpper(f.secret), "lowercase"},
		{"mixed-case hex", f.secret[:127] + "A", "lowercase"},
		{"truncated hex", f.secret[:127], "truncated?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.logs.Reset()
			before := f.tokens.reads.Load()
			_, err := f.core.Authenticate(ctx, hdr("Api-Key", tc.cred))
			if apierr.CodeOf(err) != "malformed_token" || apierr.Status(err) != http.StatusUnauthorized {
				t.Fatalf("err = %v (code %q), want 401 malformed_token", err, apierr.CodeOf(err))
			}
			if n := f.tokens.reads.Load() - before; n != 0 {
				t.Fatalf("%d store reads, want 0", n)
			}
			msg := apierr.Message(err)
			if !strings.Contains(msg, "or a lisa_ token") || !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not say %q and name both formats", msg, tc.msg)
			}
			if len(tc.cred) > 8 && strings.Contains(msg, tc.cred[5:13]) {
				t.Errorf("message %q repeats the credential", msg)
			}
			if logs := f.logs.String(); !strings.Contains(logs, `"reason":"malformed_token"`) || (len(tc.cred) > 5 && strings.Contains(logs, tc.cred[5:])) {
				t.Errorf("log %q: want reason malformed_token and no credential", logs)
			}
		})
	}
}

// TestPrefixedTokensAreNotJWTs: '_' is base64url, but with no dots a
// prefixed token never reaches the JWT verifier, and a JWT is never read
// from the store.
func TestPrefixedTokensAreNotJWTs(t *testing.T) {
	f := newFormatFixture(t, 0, lisaFormat)
	ctx := context.Background()
	if auth.LooksLikeJWT(f.prefixed) {
		t.Fatal("a prefixed token looks like a JWT")
	}
	if _, err := f.core.Authenticate(ctx, hdr("Api-Key", f.prefixed)); err != nil || f.jwt.calls.Load() != 0 {
		t.Fatalf("prefixed token: err %v, %d JWT verifications", err, f.jwt.calls.Load())
	}
	before := f.tokens.reads.Load()
	p, err := f.core.Authenticate(ctx, hdr("Authorization", "Bearer aaa.bbb.ccc"))
	if err != nil || p.AuthType != auth.AuthJWT || f.tokens.reads.Load() != before {
		t.Fatalf("JWT: %+v, %v, %d reads", p, err, f.tokens.reads.Load()-before)
	}
	// A prefixed token with dots is a (bad) JWT, not a token: no read.
	dotted := f.prefixed[:10] + "." + f.prefixed[11:20] + "." + f.prefixed[21:]
	if _, err := f.core.Authenticate(ctx, hdr("Api-Key", dotted)); err == nil || f.tokens.reads.Load() != before {
		t.Fatalf("dotted token: err %v, %d reads", err, f.tokens.reads.Load()-before)
	}
}
