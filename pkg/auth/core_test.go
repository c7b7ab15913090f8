package auth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/internal/testclock"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
)

var groups = auth.Groups{Admin: "lisa-admins", User: "lisa-users", API: "lisa-api-users"}

// fakeTokens is a TokenReader that counts reads and can fail.
type fakeTokens struct {
	mu    sync.Mutex
	items map[string]store.Token
	reads atomic.Int64
	fail  error
}

func (f *fakeTokens) GetByHash(_ context.Context, hash string) (store.Token, error) {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.Token{}, f.fail
	}
	t, ok := f.items[hash]
	if !ok {
		return store.Token{}, store.ErrNotFound
	}
	return t, nil
}

func (f *fakeTokens) put(t store.Token) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[t.Hash] = t
}

func (f *fakeTokens) remove(hash string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.items, hash)
}

// fakeJWT accepts exactly one credential, "aaa.bbb.ccc", as alice,
// expiring at exp.
type fakeJWT struct {
	calls  atomic.Int64
	groups []string
	exp    int64
	err    error
}

func (f *fakeJWT) VerifyJWT(_ context.Context, raw string) (auth.Identity, error) {
	f.calls.Add(1)
	if f.err != nil {
		return auth.Identity{}, f.err
	}
	if raw != "aaa.bbb.ccc" {
		return auth.Identity{}, apierr.New(apierr.Unauthenticated, "bad jwt").WithCode("jwt_bad_signature")
	}
	return auth.Identity{Username: "alice", Groups: f.groups, ExpiresAt: f.exp}, nil
}

type fixture struct {
	core   *auth.Core
	tokens *fakeTokens
	jwt    *fakeJWT
	clock  *testclock.Clock
	logs   *bytes.Buffer
	secret string
}

func newFixture(t testing.TB, ttl time.Duration) *fixture {
	t.Helper()
	f := &fixture{
		tokens: &fakeTokens{items: map[string]store.Token{}},
		jwt:    &fakeJWT{groups: []string{"lisa-users"}, exp: 1_800_000_000 + 3600},
		clock:  testclock.New(time.Unix(1_800_000_000, 0)),
		logs:   &bytes.Buffer{},
	}
	s, err := secret.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	f.secret = s
	f.tokens.put(store.Token{
		Hash: secret.Hash(s), UUID: "5f0c3e0e-0d7c-4a57-9c43-6f1e2b7c9a10", Username: "bob",
		Groups: []string{"lisa-api-users", "team-x"}, Expiration: f.clock.Now().Add(time.Hour).Unix(),
	})
	f.core = auth.NewCore(auth.Options{
		Tokens: f.tokens, JWT: f.jwt, Groups: groups, CacheTTL: ttl, Now: f.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
	})
	return f
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h[kv[i]] = append(h[kv[i]], kv[i+1]) // deliberately not canonicalised
	}
	return h
}

func TestCredentialExtraction(t *testing.T) {
	cases := []struct {
		name string
		h    http.Header
		want string
		ok   bool
	}{
		{"bearer", hdr("Authorization", "Bearer tok"), "tok", true},
		{"lower-case header and scheme", hdr("authorization", "bearer tok"), "tok", true},
		{"upper-case scheme", hdr("AUTHORIZATION", "BEARER tok"), "tok", true},
		{"bare authorization", hdr("Authorization", "tok"), "tok", true},
		{"api-key", hdr("Api-Key", "tok"), "tok", true},
		{"api-key lower-case", hdr("api-key", "tok"), "tok", true},
		{"authorization wins", hdr("Authorization", "Bearer a", "Api-Key", "b"), "a", true},
		{"whitespace trimmed", hdr("Authorization", "  Bearer   tok \t"), "tok", true},
		{"api-key whitespace trimmed", hdr("Api-Key", " tok\n"), "tok", true},
		{"inner whitespace kept", hdr("Api-Key", "to k"), "to k", true},
		{"empty bearer falls back to api-key", hdr("Authorization", "Bearer ", "Api-Key", "b"), "b", true},
		{"empty", hdr("Authorization", ""), "", false},
		{"bearer only", hdr("Authorization", "Bearer"), "", false},
		{"none", hdr(), "", false},
		{"too long", hdr("Api-Key", strings.Repeat("a", 20000)), "", false},
		// One request, one answer: a repeated credential header is refused,
		// whichever value a path would have picked.
		{"authorization twice", hdr("Authorization", "Bearer a", "Authorization", "Bearer b"), "", false},
		{"authorization twice, same value", hdr("Authorization", "Bearer a", "Authorization", "Bearer a"), "", false},
		{"authorization under two spellings", hdr("Authorization", "Bearer a", "authorization", "Bearer b"), "", false},
		{"api-key twice", hdr("Api-Key", "a", "api-key", "b"), "", false},
		{"api-key twice beside authorization", hdr("Authorization", "Bearer a", "Api-Key", "b", "API-KEY", "c"), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := auth.Credential(tc.h)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("Credential = %q, %v; want %q, ok=%v", got, err, tc.want, tc.ok)
			}
			if err != nil && apierr.KindOf(err) != apierr.Unauthenticated {
				t.Fatalf("refusal kind = %v, want Unauthenticated", apierr.KindOf(err))
			}
		})
	}
}

func TestAPITokenDecisions(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()

	p, err := f.core.Authenticate(ctx, hdr("Authorization", "Bearer "+f.secret))
	if err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	if p.Username != "bob" || p.AuthType != auth.AuthAPIToken || p.TokenUUID == "" || !p.IsAPIUser || p.IsAdmin {
		t.Fatalf("principal = %+v", p)
	}
	if strings.Join(p.Groups, ",") != "lisa-api-users,team-x" {
		t.Fatalf("groups = %v, want the token's stored groups", p.Groups)
	}

	// Every shape refusal says what an API token is, and where the shape
	// alone makes it certain, what the credential is instead; none costs a
	// read, and no message repeats the credential.
	const general = "expected 128 lowercase hex characters"
	refused := []struct {
		name, cred, code string
		reads            int64
		msg              []string // substrings the message must hold
	}{
		{"127 characters", f.secret[:127], "malformed_token", 0, []string{general, "127 characters", "truncated?"}},
		{"64 characters", f.secret[:64], "malformed_token", 0, []string{general, "64 characters, expected 128"}},
		{"129 characters", f.secret + "a", "malformed_token", 0, []string{general, "129 characters, expected 128"}},
		{"whitespace inside", f.secret[:60] + " " + f.secret[61:], "malformed_token", 0, []string{general, "whitespace"}},
		{"tab inside", f.secret[:60] + "\t" + f.secret[60:], "malformed_token", 0, []string{general, "whitespace"}},
		{"upper-case", strings.ToUpper(f.secret), "malformed_token", 0, []string{general, "lowercase"}},
		{"upper-case and truncated", strings.ToUpper(f.secret[:100]), "malformed_token", 0, []string{general, "100 characters"}},
		{"token uuid", "5f0c3e0e-0d7c-4a57-9c43-6f1e2b7c9a10", "malformed_token", 0, []string{general, "token id (tokenUUID)", "shown once"}},
		{"token uuid upper-case", "5F0C3E0E-0D7C-4A57-9C43-6F1E2B7C9A10", "malformed_token", 0, []string{"token id (tokenUUID)"}},
		{"openai key", "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789", "malformed_token", 0, []string{general, "OpenAI-style key"}},
		{"legacy plain text", "YOUR_STRING_HERE", "malformed_token", 0, []string{general}},
		{"unknown", strings.Repeat("ab", 64), "unknown_token", 1, []string{"unknown or revoked"}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			before := f.tokens.reads.Load()
			_, err := f.core.Authenticate(ctx, hdr("Api-Key", tc.cred))
			if apierr.KindOf(err) != apierr.Unauthenticated || apierr.CodeOf(err) != tc.code {
				t.Fatalf("err = %v (code %q), want Unauthenticated %q", err, apierr.CodeOf(err), tc.code)
			}
			if got := f.tokens.reads.Load() - before; got != tc.reads {
				t.Fatalf("store reads = %d, want %d", got, tc.reads)
			}
			msg := apierr.Message(err)
			for _, want := range tc.msg {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %q", msg, want)
				}
			}
			if strings.Contains(msg, strings.TrimSpace(tc.cred)) || strings.Contains(msg, tc.cred[:16]) {
				t.Errorf("message %q repeats the credential", msg)
			}
		})
	}
	t.Run("only certain hints", func(t *testing.T) {
		// Neither a UUID (one character short) nor hex: the general
		// message only, no guess.
		for _, cred := range []string{"5f0c3e0e-0d7c-4a57-9c43-6f1e2b7c9a1", "YOUR_STRING_HERE", "ghijklmnopqrstuvwxyz"} {
			_, err := f.core.Authenticate(ctx, hdr("Api-Key", cred))
			if msg := apierr.Message(err); !strings.HasSuffix(msg, general) {
				t.Errorf("%q: message %q, want the general message alone", cred, msg)
			}
		}
	})

	t.Run("legacy item stored under the hash", func(t *testing.T) {
		s := strings.Repeat("cd", 64)
		f.tokens.put(store.Token{Hash: secret.Hash(s), Legacy: true})
		_, err := f.core.Authenticate(ctx, hdr("Api-Key", s))
		if apierr.CodeOf(err) != "legacy_token" {
			t.Fatalf("err = %v, want legacy_token", err)
		}
	})

	t.Run("expired at exactly tokenExpiration", func(t *testing.T) {
		f.clock.Add(time.Hour)
		_, err := f.core.Authenticate(ctx, hdr("Api-Key", f.secret))
		if apierr.CodeOf(err) != "expired_token" || !strings.Contains(apierr.Message(err), "create a new token") {
			t.Fatalf("err = %v, want expired_token saying to create a new token", err)
		}
	})
}

func TestJWTNeverReadsStore(t *testing.T) {
	f := newFixture(t, 0)
	p, err := f.core.Authenticate(context.Background(), hdr("Authorization", "Bearer aaa.bbb.ccc"))
	if err != nil || p.Username != "alice" || p.AuthType != auth.AuthJWT {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	if _, err := f.core.Authenticate(context.Background(), hdr("Authorization", "Bearer aaa.bbb.ccd")); apierr.KindOf(err) != apierr.Unauthenticated {
		t.Fatalf("forged JWT: err = %v, want Unauthenticated", err)
	}
	if n := f.tokens.reads.Load(); n != 0 {
		t.Fatalf("JWTs caused %d store reads, want 0", n)
	}
}

func TestUserGroupRequiredForJWT(t *testing.T) {
	cases := []struct {
		name   string
		groups []string
		ok     bool
	}{
		{"user group", []string{"lisa-users"}, true},
		{"api group", []string{"lisa-api-users"}, true},
		{"admin group", []string{"lisa-admins"}, true},
		{"other groups only", []string{"guests"}, false},
		{"no groups", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 0)
			f.jwt.groups = tc.groups
			_, err := f.core.Authenticate(context.Background(), hdr("Authorization", "Bearer aaa.bbb.ccc"))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && apierr.CodeOf(err) != "not_in_user_group" {
				t.Fatalf("code = %q", apierr.CodeOf(err))
			}
		})
	}
}

func TestCacheBoundsRevocationDelay(t *testing.T) {
	const ttl = 10 * time.Second
	f := newFixture(t, ttl)
	ctx := context.Background()
	h := hdr("Api-Key", f.secret)
	if _, err := f.core.Authenticate(ctx, h); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := f.core.Authenticate(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokens.reads.Load(); n != 1 {
		t.Fatalf("reads with a warm cache = %d, want 1", n)
	}
	f.tokens.remove(secret.Hash(f.secret)) // revoke
	f.clock.Add(ttl - time.Second)
	if _, err := f.core.Authenticate(ctx, h); err != nil {
		t.Fatalf("within the TTL the cached decision stands (documented bound): %v", err)
	}
	f.clock.Add(time.Second)
	if _, err := f.core.Authenticate(ctx, h); apierr.CodeOf(err) != "unknown_token" {
		t.Fatalf("after the TTL a revoked token must be refused: err = %v", err)
	}
	// Negative results are cached too.
	reads := f.tokens.reads.Load()
	_, _ = f.core.Authenticate(ctx, h)
	if f.tokens.reads.Load() != reads {
		t.Fatal("negative result was not cached")
	}
}

func TestCachedTokenStillExpires(t *testing.T) {
	f := newFixture(t, 2*time.Hour) // TTL longer than the token's remaining life
	h := hdr("Api-Key", f.secret)
	if _, err := f.core.Authenticate(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour)
	if _, err := f.core.Authenticate(context.Background(), h); apierr.CodeOf(err) != "expired_token" {
		t.Fatalf("err = %v, want expired_token from the cached entry", err)
	}
}

func TestFailsClosed(t *testing.T) {
	t.Run("store down", func(t *testing.T) {
		f := newFixture(t, time.Minute)
		f.tokens.fail = errors.New("dial tcp 127.0.0.1:8000: connection refused")
		p, err := f.core.Authenticate(context.Background(), hdr("Api-Key", f.secret))
		if err == nil || apierr.KindOf(err) != apierr.Unavailable || p.Username != "" {
			t.Fatalf("Authenticate = %+v, %v; want Unavailable and no principal", p, err)
		}
		f.tokens.fail = nil // failures are not cached
		if _, err := f.core.Authenticate(context.Background(), hdr("Api-Key", f.secret)); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	})
	t.Run("issuer down", func(t *testing.T) {
		f := newFixture(t, 0)
		f.jwt.err = apierr.New(apierr.Unavailable, "issuer unavailable").WithCode("issuer_unavailable")
		_, err := f.core.Authenticate(context.Background(), hdr("Authorization", "Bearer aaa.bbb.ccc"))
		if apierr.KindOf(err) != apierr.Unavailable {
			t.Fatalf("err = %v, want Unavailable", err)
		}
	})
	t.Run("no JWT verifier", func(t *testing.T) {
		c := auth.NewCore(auth.Options{Tokens: &fakeTokens{items: map[string]store.Token{}}, Groups: groups})
		if _, err := c.Authenticate(context.Background(), hdr("Authorization", "Bearer aaa.bbb.ccc")); apierr.CodeOf(err) != "jwt_disabled" || !strings.Contains(apierr.Message(err), "use an API token") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestNoSecretInLogs(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	creds := []string{f.secret, f.secret[:127], "aaa.bbb.ccc", "aaa.bbb.ccd", strings.Repeat("ab", 64)}
	for _, c := range creds {
		_, _ = f.core.Authenticate(ctx, hdr("Authorization", "Bearer "+c))
	}
	f.tokens.fail = errors.New("boom")
	_, _ = f.core.Authenticate(ctx, hdr("Api-Key", f.secret))
	logs := f.logs.String()
	for _, c := range creds {
		if strings.Contains(logs, c) {
			t.Fatalf("a credential appears in the logs:\n%s", logs)
		}
	}
	for _, code := range []string{"malformed_token", "unknown_token", "jwt_bad_signature", "store_unavailable"} {
		if !strings.Contains(logs, code) {
			t.Errorf("refusal reason %q not logged:\n%s", code, logs)
		}
	}
}

func TestConcurrentDecisions(t *testing.T) {
	f := newFixture(t, time.Second)
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cred := f.secret
			if i%2 == 1 {
				cred = strings.Repeat("ef", 64)
			}
			_, err := f.core.Authenticate(context.Background(), hdr("Api-Key", cred))
			if (err == nil) != (i%2 == 0) {
				failures.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d concurrent decisions were wrong", failures.Load())
	}
}

func TestPrincipalContextRoundTrip(t *testing.T) {
	in := auth.Principal{Username: "bob", Groups: []string{"a", "b"}, AuthType: auth.AuthAPIToken, TokenUUID: "u", IsAPIUser: true,
		ExpiresAt: 1_900_000_000, IsSystemToken: true}
	out, err := auth.PrincipalFromContext(in.Context())
	if err != nil || out.Username != in.Username || strings.Join(out.Groups, ",") != "a,b" ||
		out.AuthType != in.AuthType || out.TokenUUID != "u" || !out.IsAPIUser || out.IsAdmin ||
		out.ExpiresAt != in.ExpiresAt || !out.IsSystemToken {
		t.Fatalf("round trip = %+v, %v", out, err)
	}
	// API Gateway delivers context numbers as JSON numbers or strings.
	for _, v := range []interface{}{float64(1_900_000_000), "1900000000"} {
		out, err = auth.PrincipalFromContext(map[string]interface{}{"username": "x", "expiresAt": v, "isSystemToken": "true"})
		if err != nil || out.ExpiresAt != 1_900_000_000 || !out.IsSystemToken {
			t.Fatalf("expiresAt %T: %+v, %v", v, out, err)
		}
	}
	if _, err := auth.PrincipalFromContext(map[string]interface{}{"username": "x", "expiresAt": "soon"}); err == nil {
		t.Fatal("a corrupt expiresAt must be refused")
	}
	// API Gateway may deliver booleans as strings.
	out, _ = auth.PrincipalFromContext(map[string]interface{}{"username": "x", "isAdmin": "true", "groups": "[]"})
	if !out.IsAdmin {
		t.Fatal(`isAdmin "true" not understood`)
	}
	if _, err := auth.PrincipalFromContext(map[string]interface{}{}); err == nil {
		t.Fatal("a context without username must be refused")
	}
	if _, err := auth.PrincipalFromContext(map[string]interface{}{"username": "x", "groups": "{"}); err == nil {
		t.Fatal("corrupt groups must be refused")
	}
}

func TestDuplicateCredentialHeadersAreRefusedBeforeAnyRead(t *testing.T) {
	f := newFixture(t, time.Minute)
	h := http.Header{}
	h.Add("Authorization", "Bearer "+f.secret)
	h.Add("Authorization", "Bearer "+strings.Repeat("0", 128))
	_, err := f.core.Authenticate(context.Background(), h)
	if apierr.CodeOf(err) != "duplicate_credential" || apierr.KindOf(err) != apierr.Unauthenticated {
		t.Fatalf("err = %v (code %q), want duplicate_credential", err, apierr.CodeOf(err))
	}
	if n := f.tokens.reads.Load(); n != 0 {
		t.Fatalf("%d reads for a refused request, want 0", n)
	}
}

func TestEventHeadersKeepEveryValue(t *testing.T) {
	h := auth.EventHeaders(
		map[string]string{"authorization": "Bearer b", "X-Other": "1"},
		map[string][]string{"authorization": {"Bearer a", "Bearer b"}},
	)
	if got := h.Values("Authorization"); len(got) != 2 || got[0] != "Bearer a" {
		t.Fatalf("Authorization = %q, want both values, first first", got)
	}
	if h.Get("X-Other") != "1" {
		t.Fatal("single-value header missing")
	}
	if _, err := auth.Credential(h); apierr.CodeOf(err) != "duplicate_credential" {
		t.Fatalf("Credential = %v, want duplicate_credential", err)
	}
}

func TestFreshTokensReadEveryTime(t *testing.T) {
	f := newFixture(t, time.Minute)
	fresh := auth.NewCore(auth.Options{Tokens: f.tokens, JWT: f.jwt, Groups: groups, CacheTTL: time.Minute, FreshTokens: true, Now: f.clock.Now})
	ctx := context.Background()
	h := hdr("Api-Key", f.secret)
	for i := 0; i < 3; i++ {
		if _, err := fresh.Authenticate(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokens.reads.Load(); n != 3 {
		t.Fatalf("%d reads for 3 decisions, want 3", n)
	}
	// A revocation is seen by the very next call.
	f.tokens.remove(secret.Hash(f.secret))
	if _, err := fresh.Authenticate(ctx, h); apierr.CodeOf(err) != "unknown_token" {
		t.Fatalf("after delete: %v, want unknown_token", err)
	}
	// JWTs are still cached: they cannot be revoked, and cost no read.
	for i := 0; i < 3; i++ {
		if _, err := fresh.Authenticate(ctx, hdr("Authorization", "Bearer aaa.bbb.ccc")); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.jwt.calls.Load(); n != 1 {
		t.Fatalf("%d JWT verifications, want 1", n)
	}
}

func TestPrincipalCarriesExpiryAndSystemFlag(t *testing.T) {
	f := newFixture(t, 0)
	sys, _ := secret.Generate(nil)
	exp := f.clock.Now().Add(24 * time.Hour).Unix()
	f.tokens.put(store.Token{Hash: secret.Hash(sys), UUID: "7d1f0a3c-1b2e-4c5d-8e9f-0a1b2c3d4e5f", Username: "ci", IsSystem: true, Expiration: exp})
	p, err := f.core.Authenticate(context.Background(), hdr("Api-Key", sys))
	if err != nil || !p.IsSystemToken || p.ExpiresAt != exp {
		t.Fatalf("principal = %+v, %v; want a system token expiring at %d", p, err, exp)
	}
	p, err = f.core.Authenticate(context.Background(), hdr("Authorization", "Bearer aaa.bbb.ccc"))
	if err != nil || p.IsSystemToken || p.ExpiresAt != f.jwt.exp {
		t.Fatalf("JWT principal = %+v, %v; want ExpiresAt = exp", p, err)
	}
}

// A flood of unknown tokens must not push the decisions about real ones
// out of the cache.
func TestUnknownTokenFloodKeepsAllowedDecisions(t *testing.T) {
	f := newFixture(t, time.Minute)
	core := auth.NewCore(auth.Options{Tokens: f.tokens, Groups: groups, CacheTTL: time.Minute, CacheSize: 100, Now: f.clock.Now})
	ctx := context.Background()
	h := hdr("Api-Key", f.secret)
	if _, err := core.Authenticate(ctx, h); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		junk, _ := secret.Generate(nil)
		if _, err := core.Authenticate(ctx, hdr("Api-Key", junk)); apierr.CodeOf(err) != "unknown_token" {
			t.Fatalf("junk token: %v", err)
		}
	}
	before := f.tokens.reads.Load()
	if _, err := core.Authenticate(ctx, h); err != nil {
		t.Fatal(err)
	}
	if n := f.tokens.reads.Load() - before; n != 0 {
		t.Fatalf("the real token cost %d reads after the flood, want 0 (its decision was evicted)", n)
	}
}

func TestVerifiedJWTsAreCachedUntilExpOrTTL(t *testing.T) {
	const ttl = 10 * time.Second
	f := newFixture(t, ttl)
	ctx := context.Background()
	good, forged := hdr("Authorization", "Bearer aaa.bbb.ccc"), hdr("Authorization", "Bearer aaa.bbb.ccd")
	for i := 0; i < 3; i++ {
		if _, err := f.core.Authenticate(ctx, good); err != nil {
			t.Fatal(err)
		}
		_, _ = f.core.Authenticate(ctx, forged)
	}
	// One verification for the good token; every forged attempt verified
	// (refusals are not cached, so they cannot crowd the cache).
	if n := f.jwt.calls.Load(); n != 1+3 {
		t.Fatalf("%d verifications, want 4", n)
	}
	f.clock.Add(ttl)
	if _, err := f.core.Authenticate(ctx, good); err != nil || f.jwt.calls.Load() != 5 {
		t.Fatalf("after the TTL the JWT must be verified again: %v, %d calls", err, f.jwt.calls.Load())
	}
	// A cached JWT stops working at its exp even within the TTL.
	f.clock.Add(ttl) // the cached entry lapses
	f.jwt.exp = f.clock.Now().Unix() + 5
	if _, err := f.core.Authenticate(ctx, good); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(5 * time.Second)
	// A JWT cannot be renewed by creating anything: its holder signs in again.
	if _, err := f.core.Authenticate(ctx, good); apierr.CodeOf(err) != "expired_token" || !strings.Contains(apierr.Message(err), "sign in again") {
		t.Fatalf("err = %v, want expired_token saying to sign in again, from the cached entry", err)
	}
	// A principal refused for USER_GROUP is not cached either.
	f2 := newFixture(t, ttl)
	f2.jwt.groups = []string{"guests"}
	for i := 0; i < 2; i++ {
		if _, err := f2.core.Authenticate(ctx, good); apierr.CodeOf(err) != "not_in_user_group" || !strings.Contains(apierr.Message(err), "group that may use this gateway") {
			t.Fatalf("err = %v", err)
		}
	}
	if f2.jwt.calls.Load() != 2 {
		t.Fatalf("refused JWT verified %d times, want 2", f2.jwt.calls.Load())
	}
}

func TestTooLongCredentialSaysWhy(t *testing.T) {
	_, err := auth.Credential(hdr("Api-Key", strings.Repeat("a", 20000)))
	if apierr.CodeOf(err) != "malformed_credential" || !strings.Contains(apierr.Message(err), "16 KiB") {
		t.Fatalf("err = %v (code %q), want malformed_credential naming the 16 KiB limit", err, apierr.CodeOf(err))
	}
}
