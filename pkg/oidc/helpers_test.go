package oidc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/internal/syncbuf"
	"github.com/llmgw/apitokens/pkg/local/devoidc"
	"github.com/llmgw/apitokens/pkg/oidc"
)

// t0 is the fixed "now" of the issuer and of every verifier in these
// tests, so that time checks are exact and independent of the wall clock.
var t0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return t0 }

const audience = "test-client"

// env is a real issuer on loopback and a verifier trusting it.
type env struct {
	iss  *devoidc.Issuer
	srv  *httptest.Server
	v    *oidc.Verifier
	logs *syncbuf.Buffer
}

func startIssuer(t testing.TB, opts devoidc.Options) (*devoidc.Issuer, *httptest.Server) {
	t.Helper()
	if opts.Audience == "" {
		opts.Audience = audience
	}
	opts.Now = clock
	iss, srv, err := devoidc.NewTestServer(opts)
	if err != nil {
		t.Fatalf("start issuer: %v", err)
	}
	t.Cleanup(srv.Close)
	return iss, srv
}

// baseConfig is the configuration the tests start from: short timeouts so
// that fault tests are quick, the long default unknown-kid interval so that
// rate limiting is observable.
func baseConfig(issuer string, logs *syncbuf.Buffer) oidc.Config {
	return oidc.Config{
		Issuer:        issuer,
		Audience:      audience,
		GroupsClaim:   "groups",
		HTTPTimeout:   2 * time.Second,
		RetryInterval: time.Millisecond,
		Now:           clock,
		Logger:        slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func newVerifier(t testing.TB, issuer string, tweak func(*oidc.Config)) (*oidc.Verifier, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	cfg := baseConfig(issuer, logs)
	if tweak != nil {
		tweak(&cfg)
	}
	v, err := oidc.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("oidc.New: %v", err)
	}
	return v, logs
}

func newEnv(t testing.TB, opts devoidc.Options, tweak func(*oidc.Config)) *env {
	t.Helper()
	iss, srv := startIssuer(t, opts)
	v, logs := newVerifier(t, iss.URL(), tweak)
	return &env{iss: iss, srv: srv, v: v, logs: logs}
}

func (e *env) token(t testing.TB, username string, groups ...string) string {
	t.Helper()
	tok, err := e.iss.Token(username, groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *env) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := e.iss.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// mustVerify verifies tok and fails the test on any error.
func mustVerify(t testing.TB, v *oidc.Verifier, tok string) auth.Identity {
	t.Helper()
	id, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Verify: unexpected refusal %v (code %q)", err, apierr.CodeOf(err))
	}
	return id
}

// expectRefusal verifies tok and checks the refusal: kind, code, no
// identity, and that neither the error nor the logs repeat the token.
func expectRefusal(t testing.TB, v *oidc.Verifier, logs *syncbuf.Buffer, tok string, kind apierr.Kind, code string) {
	t.Helper()
	id, err := v.Verify(t.Context(), tok)
	if err == nil {
		t.Fatalf("Verify accepted the token as %+v, want refusal %q", id, code)
	}
	if id.Username != "" || id.Groups != nil || id.Subject != "" || id.ExpiresAt != 0 {
		t.Errorf("refusal came with an identity %+v", id)
	}
	var ae *apierr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *apierr.Error", err, err)
	}
	if ae.Kind != kind || ae.Code != code {
		t.Errorf("refusal kind %v code %q (%v), want kind %v code %q", ae.Kind, ae.Code, err, kind, code)
	}
	assertNoLeak(t, tok, err.Error(), "error")
	if logs != nil {
		assertNoLeak(t, tok, logs.String(), "logs")
	}
}

// assertNoLeak fails if text contains tok or any of its segments long
// enough to identify it.
func assertNoLeak(t testing.TB, tok, text, where string) {
	t.Helper()
	for _, part := range append(strings.Split(tok, "."), tok) {
		if len(part) >= 16 && strings.Contains(text, part) {
			t.Errorf("%s contains (part of) the token: %q", where, text)
			return
		}
	}
}

var (
	foreignRSA = sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	})
	foreignEC = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

// signForeign signs claims with a key the issuer never published, under
// the given kid ("" for none).
func signForeign(t testing.TB, method jwt.SigningMethod, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tk := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tk.Header["kid"] = kid
	}
	var key any = foreignRSA()
	if _, ok := method.(*jwt.SigningMethodECDSA); ok {
		key = foreignEC()
	}
	s, err := tk.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
