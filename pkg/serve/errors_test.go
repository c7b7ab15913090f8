package serve_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/oidc"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/serve"
	"github.com/llmgw/apitokens/pkg/store"
)

// hashTokens is a TokenReader over fixed items, keyed by hash.
type hashTokens map[string]store.Token

func (m hashTokens) GetByHash(_ context.Context, hash string) (store.Token, error) {
	if t, ok := m[hash]; ok {
		return t, nil
	}
	return store.Token{}, store.ErrNotFound
}

// jwtByName verifies the JWTs of the table below: each raw JWT names an
// identity or a refusal, as the OIDC verifier gives them.
type jwtByName map[string]error

func (m jwtByName) VerifyJWT(_ context.Context, raw string) (auth.Identity, error) {
	if err, ok := m[raw]; ok {
		if err != nil {
			return auth.Identity{}, err
		}
		return auth.Identity{Username: "guest", Groups: []string{"guests"}, ExpiresAt: time.Now().Add(time.Hour).Unix()}, nil
	}
	return auth.Identity{}, apierr.New(apierr.Unauthenticated, "invalid token: token signature is invalid").WithCode(oidc.CodeBadSignature)
}

// TestAuthRefusalCodes runs every kind of refusal through the real
// decision core and the serve handler: invalid_api_key is the code only
// where the credential is not a valid key; every other refusal keeps its
// reason, and every message says what is wrong, without the credential.
func TestAuthRefusalCodes(t *testing.T) {
	now := time.Now()
	legacy, expired := strings.Repeat("cd", 64), strings.Repeat("ef", 64)
	tokens := hashTokens{
		secret.Hash(legacy):  {Hash: secret.Hash(legacy), Legacy: true},
		secret.Hash(expired): {Hash: secret.Hash(expired), UUID: "5f0c3e0e-0d7c-4a57-9c43-6f1e2b7c9a10", Username: "bob", Expiration: now.Add(-time.Minute).Unix()},
	}
	jwts := jwtByName{
		"guest.jwt.ok":    nil, // verifies, but names a user in none of the gateway's groups
		"old.jwt.expired": apierr.New(apierr.Unauthenticated, "invalid token: token has expired").WithCode(oidc.CodeExpired),
		"other.jwt.aud":   apierr.New(apierr.Unauthenticated, "invalid token: token is for another audience").WithCode(oidc.CodeBadAudience),
		"none.jwt.alg":    apierr.New(apierr.Unauthenticated, "invalid token: token signature algorithm is not allowed").WithCode(oidc.CodeAlgNotAllowed),
	}
	groups := auth.Groups{Admin: "lisa-admins", User: "lisa-users", API: "lisa-api-users"}
	withJWT := auth.NewCore(auth.Options{Tokens: tokens, JWT: jwts, Groups: groups})
	withoutJWT := auth.NewCore(auth.Options{Tokens: tokens, Groups: groups})

	cases := []struct {
		name    string
		noJWT   bool
		headers []string
		code    string
		msg     string // a substring the message must hold
	}{
		{"no credential", false, nil, "missing_credential", "Bearer <token>"},
		{"two credentials", false, []string{"Authorization", "Bearer a", "Authorization", "Bearer b"}, "duplicate_credential", "send one"},
		{"token id instead of the token", false, bearer("5f0c3e0e-0d7c-4a57-9c43-6f1e2b7c9a10"), serve.CodeInvalidAPIKey, "token id"},
		{"openai key", false, bearer("sk-proj-0123456789abcdef"), serve.CodeInvalidAPIKey, "OpenAI-style key"},
		{"upper-case token", false, bearer(strings.ToUpper(expired)), serve.CodeInvalidAPIKey, "lowercase"},
		{"too long", false, bearer(strings.Repeat("a", 17<<10)), serve.CodeInvalidAPIKey, "too long"},
		{"unknown token", false, bearer(strings.Repeat("ab", 64)), serve.CodeInvalidAPIKey, "unknown or revoked"},
		{"legacy token", false, bearer(legacy), "legacy_token", "create a new token"},
		{"expired token", false, bearer(expired), "expired_token", "expired"},
		{"jwt outside the user group", false, bearer("guest.jwt.ok"), "not_in_user_group", "not in the group that may use this gateway"},
		{"jwt expired", false, bearer("old.jwt.expired"), oidc.CodeExpired, "expired"},
		{"jwt for another audience", false, bearer("other.jwt.aud"), oidc.CodeBadAudience, "another audience"},
		{"jwt with a bad signature", false, bearer("forged.jwt.sig"), serve.CodeInvalidAPIKey, "signature"},
		{"jwt unsigned", false, bearer("none.jwt.alg"), serve.CodeInvalidAPIKey, "algorithm"},
		{"jwt not accepted", true, bearer("guest.jwt.ok"), "jwt_disabled", "use an API token"},
	}
	base := newEnv(t, nil)
	envFor := map[bool]*testEnv{}
	for noJWT, core := range map[bool]*auth.Core{false: withJWT, true: withoutJWT} {
		h, err := serve.New(base.config, core)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		envFor[noJWT] = &testEnv{up: base.up, h: h, srv: srv}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := envFor[tc.noJWT].call(t, "GET", "/v2/serve/models", "", tc.headers...)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401: %s", r.status, r.body)
			}
			d := r.errorBody(t)
			if d.Code != tc.code || d.Type != serve.TypeAuthentication {
				t.Errorf("code %q type %q, want %q %q: %s", d.Code, d.Type, tc.code, serve.TypeAuthentication, r.body)
			}
			if !strings.Contains(d.Message, tc.msg) {
				t.Errorf("message %q does not say %q", d.Message, tc.msg)
			}
			for i := 1; i < len(tc.headers); i += 2 {
				if cred := strings.TrimPrefix(tc.headers[i], "Bearer "); len(cred) > 8 && strings.Contains(string(r.body), cred) {
					t.Errorf("the answer repeats the credential: %s", r.body)
				}
			}
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if n := base.up.Count(); n != 0 {
		t.Errorf("upstream called %d times for refused calls", n)
	}
}

// The serve path's error bodies are JSON for SDKs: <, > and & are
// written as they are, on the raw bytes, and the body ends with the JSON.
func TestErrorBodiesWriteAngleBracketsAsTheyAre(t *testing.T) {
	e := newEnv(t, nil)
	r := e.call(t, "GET", "/v2/serve/models", "")
	if !strings.Contains(string(r.body), "Bearer <token> or Api-Key: <token>") || strings.Contains(string(r.body), `\u003c`) {
		t.Fatalf("body = %s, want <token> written literally", r.body)
	}
	if strings.HasSuffix(string(r.body), "\n") {
		t.Fatalf("body ends with a newline: %q", r.body)
	}
}
