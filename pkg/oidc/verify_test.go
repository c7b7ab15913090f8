package oidc_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/local/devoidc"
	"github.com/llmgw/apitokens/pkg/oidc"
)

func TestVerifyValid(t *testing.T) {
	for _, kt := range []devoidc.KeyType{devoidc.RS256, devoidc.ES256, devoidc.EdDSA} {
		t.Run(string(kt), func(t *testing.T) {
			e := newEnv(t, devoidc.Options{KeyType: kt}, nil)
			id := mustVerify(t, e.v, e.token(t, "alice", "lisa-users", "lisa-api-users"))
			want := auth.Identity{Username: "alice", Groups: []string{"lisa-users", "lisa-api-users"}, Subject: "alice", ExpiresAt: t0.Add(time.Hour).Unix()}
			if id.Username != want.Username || !slices.Equal(id.Groups, want.Groups) || id.Subject != want.Subject || id.ExpiresAt != want.ExpiresAt {
				t.Errorf("identity = %+v, want %+v", id, want)
			}
		})
	}
}

// rsaEnv is shared by the table tests below, which neither rotate keys nor
// take the issuer down.
func rsaEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, devoidc.Options{}, nil)
}

func TestVerifyAcceptsEdgeCases(t *testing.T) {
	e := rsaEnv(t)
	base := func() jwt.MapClaims { return e.iss.Claims("alice", []string{"g"}, time.Hour) }
	for _, tc := range []struct {
		name  string
		token func() string
	}{
		{"expired but within leeway", func() string {
			c := base()
			c["exp"] = t0.Add(-20 * time.Second).Unix()
			return e.sign(t, c)
		}},
		{"nbf in the future but within leeway", func() string {
			c := base()
			c["nbf"] = t0.Add(20 * time.Second).Unix()
			return e.sign(t, c)
		}},
		{"aud is a list holding ours", func() string {
			c := base()
			c["aud"] = []string{"other", audience}
			return e.sign(t, c)
		}},
		{"no kid: every cached key is tried", func() string {
			tok, err := e.iss.SignWithHeader(map[string]any{"typ": "JWT"}, base())
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustVerify(t, e.v, tc.token())
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	e := rsaEnv(t)
	kid := e.iss.CurrentKID()
	base := func() jwt.MapClaims { return e.iss.Claims("mallory", []string{"lisa-admins"}, time.Hour) }
	with := func(edit func(jwt.MapClaims)) string {
		c := base()
		edit(c)
		return e.sign(t, c)
	}
	valid := e.sign(t, base())
	seg := strings.Split(valid, ".")
	b64 := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	pub, _ := e.iss.PublicKey(kid)
	der, err := x509.MarshalPKIXPublicKey(pub.(*rsa.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hmac := func(m jwt.SigningMethod, secret []byte) string {
		tk := jwt.NewWithClaims(m, base())
		tk.Header["kid"] = kid
		s, err := tk.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	const unauth = apierr.Unauthenticated
	for _, tc := range []struct {
		name  string
		token string
		code  string
	}{
		// Algorithm attacks.
		{"alg none", func() string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodNone, base()).SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}(), oidc.CodeAlgNotAllowed},
		{"alg none with a signature segment", b64(map[string]any{"alg": "none", "kid": kid}) + "." + seg[1] + "." + seg[2], oidc.CodeAlgNotAllowed},
		{"alg None, other case", b64(map[string]any{"alg": "None"}) + "." + seg[1] + "." + seg[2], oidc.CodeAlgNotAllowed},
		{"no alg", b64(map[string]any{"kid": kid}) + "." + seg[1] + "." + seg[2], oidc.CodeAlgNotAllowed},
		{"alg not a string", b64(map[string]any{"alg": 256, "kid": kid}) + "." + seg[1] + "." + seg[2], oidc.CodeAlgNotAllowed},
		{"HS256 keyed with the issuer's RSA public key PEM", hmac(jwt.SigningMethodHS256, pemBytes), oidc.CodeAlgNotAllowed},
		{"HS256 keyed with the issuer's RSA public key DER", hmac(jwt.SigningMethodHS256, der), oidc.CodeAlgNotAllowed},
		{"HS512 keyed with the issuer's RSA public key PEM", hmac(jwt.SigningMethodHS512, pemBytes), oidc.CodeAlgNotAllowed},

		// Claims.
		{"wrong issuer", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }), oidc.CodeBadIssuer},
		{"issuer with a trailing slash", with(func(c jwt.MapClaims) { c["iss"] = e.iss.URL() + "/" }), oidc.CodeBadIssuer},
		{"no issuer", with(func(c jwt.MapClaims) { delete(c, "iss") }), oidc.CodeBadIssuer},
		{"wrong audience", with(func(c jwt.MapClaims) { c["aud"] = "another-client" }), oidc.CodeBadAudience},
		{"audience list without ours", with(func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} }), oidc.CodeBadAudience},
		{"no audience", with(func(c jwt.MapClaims) { delete(c, "aud") }), oidc.CodeBadAudience},
		{"expired", with(func(c jwt.MapClaims) { c["exp"] = t0.Add(-oidc.DefaultLeeway - time.Second).Unix() }), oidc.CodeExpired},
		{"expired long ago", with(func(c jwt.MapClaims) { c["exp"] = t0.Add(-24 * time.Hour).Unix() }), oidc.CodeExpired},
		{"nbf in the future", with(func(c jwt.MapClaims) { c["nbf"] = t0.Add(oidc.DefaultLeeway + time.Minute).Unix() }), oidc.CodeNotYetValid},
		{"iat in the future", with(func(c jwt.MapClaims) { c["iat"] = t0.Add(oidc.DefaultLeeway + time.Minute).Unix() }), oidc.CodeNotYetValid},
		{"no exp", with(func(c jwt.MapClaims) { delete(c, "exp") }), oidc.CodeMissingExp},
		{"exp not a number", with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), oidc.CodeMalformed},
		{"no username claim", with(func(c jwt.MapClaims) {
			for _, k := range []string{"sub", "username", "preferred_username", "cognito:username"} {
				delete(c, k)
			}
		}), oidc.CodeNoUsername},
		{"blank username claims", with(func(c jwt.MapClaims) {
			c["sub"], c["username"], c["preferred_username"], c["cognito:username"] = "", " ", 7, nil
		}), oidc.CodeNoUsername},

		// Signatures and keys.
		{"tampered payload", seg[0] + "." + b64(func() jwt.MapClaims {
			c := base()
			c["username"] = "admin"
			return c
		}()) + "." + seg[2], oidc.CodeBadSignature},
		{"tampered header", b64(map[string]any{"alg": "RS256", "kid": kid, "typ": "JWT", "x": 1}) + "." + seg[1] + "." + seg[2], oidc.CodeBadSignature},
		{"signature by a foreign key under a known kid", signForeign(t, jwt.SigningMethodRS256, kid, base()), oidc.CodeBadSignature},
		{"signature by a foreign key without kid", signForeign(t, jwt.SigningMethodRS256, "", base()), oidc.CodeBadSignature},
		{"ES256 token naming the RSA key", signForeign(t, jwt.SigningMethodES256, kid, base()), oidc.CodeBadSignature},
		{"PS256 token naming the RS256 key", signForeign(t, jwt.SigningMethodPS256, kid, base()), oidc.CodeBadSignature},
		{"signature segment of another token", seg[0] + "." + seg[1] + "." + strings.Split(e.token(t, "bob"), ".")[2], oidc.CodeBadSignature},
		{"unknown kid", signForeign(t, jwt.SigningMethodRS256, "no-such-kid", base()), oidc.CodeUnknownKID},

		// Shape.
		{"empty", "", oidc.CodeMalformed},
		{"garbage", "not a token at all", oidc.CodeMalformed},
		{"API token", strings.Repeat("0123456789abcdef", 8), oidc.CodeMalformed},
		{"two segments", seg[0] + "." + seg[1], oidc.CodeMalformed},
		{"four segments", valid + "." + seg[2], oidc.CodeMalformed},
		{"empty signature segment", seg[0] + "." + seg[1] + ".", oidc.CodeMalformed},
		{"empty payload segment", seg[0] + ".." + seg[2], oidc.CodeMalformed},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("RS256")) + "." + seg[1] + "." + seg[2], oidc.CodeMalformed},
		{"header a JSON array", b64([]string{"RS256"}) + "." + seg[1] + "." + seg[2], oidc.CodeMalformed},
		{"payload not JSON", seg[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("hello")) + "." + seg[2], oidc.CodeMalformed},
		{"padded base64", seg[0] + "=." + seg[1] + "." + seg[2], oidc.CodeMalformed},
		{"standard base64 alphabet", seg[0] + "." + seg[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(seg[2]) + "+", oidc.CodeMalformed},
		{"non-canonical base64 signature", seg[0] + "." + seg[1] + "." + nonCanonical(seg[2]), oidc.CodeMalformed},
		{"surrounding whitespace", " " + valid + " ", oidc.CodeMalformed},
		{"Bearer prefix", "Bearer " + valid, oidc.CodeMalformed},
		{"oversized", seg[0] + "." + strings.Repeat("A", oidc.MaxTokenBytes) + "." + seg[2], oidc.CodeMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectRefusal(t, e.v, e.logs, tc.token, unauth, tc.code)
		})
	}
	// The refusals must not have broken anything.
	mustVerify(t, e.v, valid)
}

// nonCanonical flips the lowest bit of the last base64 character. For a
// 256-byte RS256 signature that bit is padding, which a lenient decoder
// ignores: the same signature bytes, spelt differently.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last^1])
}

func TestUsernamePrecedence(t *testing.T) {
	e := rsaEnv(t)
	all := map[string]any{"cognito:username": "cog", "username": "user", "preferred_username": "pref", "sub": "subject"}
	for _, tc := range []struct {
		name    string
		present []string
		want    string
	}{
		{"cognito:username first", []string{"cognito:username", "username", "preferred_username", "sub"}, "cog"},
		{"then username", []string{"username", "preferred_username", "sub"}, "user"},
		{"then preferred_username", []string{"preferred_username", "sub"}, "pref"},
		{"then sub", []string{"sub"}, "subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.iss.Claims("ignored", nil, time.Hour)
			for k := range all {
				delete(c, k)
			}
			for _, k := range tc.present {
				c[k] = all[k]
			}
			id := mustVerify(t, e.v, e.sign(t, c))
			if id.Username != tc.want {
				t.Errorf("Username = %q, want %q (claims present: %v)", id.Username, tc.want, tc.present)
			}
		})
	}
	t.Run("empty claims are skipped", func(t *testing.T) {
		c := e.iss.Claims("ignored", nil, time.Hour)
		c["cognito:username"], c["username"], c["preferred_username"], c["sub"] = "", 42, "pref", "subject"
		if id := mustVerify(t, e.v, e.sign(t, c)); id.Username != "pref" {
			t.Errorf("Username = %q, want pref", id.Username)
		}
	})
}

func TestGroupsClaim(t *testing.T) {
	iss, _ := startIssuer(t, devoidc.Options{KeyType: devoidc.ES256})
	sign := func(extra map[string]any) string {
		c := iss.Claims("alice", nil, time.Hour)
		delete(c, "groups")
		maps.Copy(c, extra)
		tok, err := iss.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tc := range []struct {
		name, claim string
		extra       map[string]any
		want        []string
	}{
		{"cognito:groups is a plain key", "cognito:groups", map[string]any{"cognito:groups": []string{"lisa-users", "lisa-admins"}}, []string{"lisa-users", "lisa-admins"}},
		{"nested realm_access.roles", "realm_access.roles", map[string]any{"realm_access": map[string]any{"roles": []string{"lisa-api-users"}}}, []string{"lisa-api-users"}},
		{"literal dotted key wins over the path", "a.b", map[string]any{"a.b": []string{"literal"}, "a": map[string]any{"b": []string{"nested"}}}, []string{"literal"}},
		{"single string is one group", "groups", map[string]any{"groups": "lisa-users"}, []string{"lisa-users"}},
		{"missing claim", "groups", nil, []string{}},
		{"missing nested claim", "realm_access.roles", map[string]any{"realm_access": map[string]any{}}, []string{}},
		{"path through a non-object", "realm_access.roles", map[string]any{"realm_access": "x"}, []string{}},
		{"wrong type: number", "groups", map[string]any{"groups": 7}, []string{}},
		{"wrong type: object", "groups", map[string]any{"groups": map[string]any{"a": "b"}}, []string{}},
		{"wrong type: array with a number", "groups", map[string]any{"groups": []any{"lisa-admins", 1}}, []string{}},
		{"empty strings dropped", "groups", map[string]any{"groups": []string{"", "g"}}, []string{"g"}},
		{"no groups claim configured", "", map[string]any{"groups": []string{"g"}}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := newVerifier(t, iss.URL(), func(c *oidc.Config) { c.GroupsClaim = tc.claim })
			id := mustVerify(t, v, sign(tc.extra))
			if id.Groups == nil || !slices.Equal(id.Groups, tc.want) {
				t.Errorf("Groups = %#v, want %#v", id.Groups, tc.want)
			}
		})
	}
	t.Run("issued by the token endpoint at a nested path", func(t *testing.T) {
		kc, _ := startIssuer(t, devoidc.Options{KeyType: devoidc.ES256, GroupsClaim: "realm_access.roles"})
		v, _ := newVerifier(t, kc.URL(), func(c *oidc.Config) { c.GroupsClaim = "realm_access.roles" })
		tok, err := kc.Token("bob", []string{"lisa-users"}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if id := mustVerify(t, v, tok); !slices.Equal(id.Groups, []string{"lisa-users"}) {
			t.Errorf("Groups = %v, want [lisa-users]", id.Groups)
		}
	})
}

// TestJWTShape pins the one shape check (auth.LooksLikeJWT) on real and
// damaged tokens; Verify refuses what fails it as malformed.
func TestJWTShape(t *testing.T) {
	iss, _ := startIssuer(t, devoidc.Options{KeyType: devoidc.ES256})
	tok, err := iss.Token("alice", nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	seg := strings.Split(tok, ".")
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{tok, true},
		{"eyJhbGciOiJIUzI1NiJ9.e30.c2ln", true}, // shape only: HS256 is refused by Verify, not here
		{"", false},
		{strings.Repeat("ab", 64), false}, // an API token
		{"a.b.c", true},                   // shape only: the header is checked by Verify
		{seg[0] + "." + seg[1] + ".", false},
		{seg[0] + ".." + seg[2], false},
		{"." + seg[1] + "." + seg[2], false},
		{seg[0] + "." + seg[1], false},
		{tok + "." + seg[2], false},
		{seg[0] + "." + seg[1] + "." + seg[2] + "=", false},
		{" " + tok, false},
	} {
		if got := auth.LooksLikeJWT(tc.in); got != tc.want {
			t.Errorf("LooksLikeJWT(%.40q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	// Three segments whose header is not a JSON object are JWT-shaped but
	// no JWT: Verify refuses them as malformed, without any key lookup.
	e := newEnv(t, devoidc.Options{KeyType: devoidc.ES256}, nil)
	for _, in := range []string{"a.b.c", "eyJ9.e30.c2ln", "bnVsbA.e30.c2ln", "WyJhIl0.e30.c2ln"} {
		if _, err := e.v.Verify(t.Context(), in); apierr.CodeOf(err) != oidc.CodeMalformed {
			t.Errorf("Verify(%q) = %v, want %s", in, err, oidc.CodeMalformed)
		}
	}
}

func TestUsernameClaim(t *testing.T) {
	iss, _ := startIssuer(t, devoidc.Options{KeyType: devoidc.ES256})
	sign := func(edit func(jwt.MapClaims)) string {
		c := iss.Claims("alice", nil, time.Hour) // sub, username, preferred_username = alice
		c["cognito:username"] = "cog-alice"
		edit(c)
		tok, err := iss.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	keep := func(jwt.MapClaims) {}
	for _, tc := range []struct {
		name, claim string
		edit        func(jwt.MapClaims)
		want        string // "" means refused with jwt_no_username
	}{
		{"set to sub: sub even when cognito:username is present", "sub", func(c jwt.MapClaims) { c["sub"] = "0f1e-subject" }, "0f1e-subject"},
		{"set to oid: the oid claim", "oid", func(c jwt.MapClaims) { c["oid"] = "00000000-0000-0000-0000-00000000a11c" }, "00000000-0000-0000-0000-00000000a11c"},
		{"set to oid: refused without oid, no fallback", "oid", keep, ""},
		{"set to oid: refused when oid is empty", "oid", func(c jwt.MapClaims) { c["oid"] = "" }, ""},
		{"set to oid: refused when oid is blank", "oid", func(c jwt.MapClaims) { c["oid"] = "  " }, ""},
		{"set to oid: refused when oid is a number", "oid", func(c jwt.MapClaims) { c["oid"] = 42 }, ""},
		{"set to oid: refused when oid is a list", "oid", func(c jwt.MapClaims) { c["oid"] = []string{"a"} }, ""},
		{"set to oid: refused when oid is null", "oid", func(c jwt.MapClaims) { c["oid"] = nil }, ""},
		{"dotted path", "ext.uid", func(c jwt.MapClaims) { c["ext"] = map[string]any{"uid": "u-1"} }, "u-1"},
		{"literal key with a colon", "cognito:username", keep, "cog-alice"},
		{"unset: precedence unchanged", "", keep, "cog-alice"},
		{"unset: falls back to sub", "", func(c jwt.MapClaims) {
			delete(c, "cognito:username")
			delete(c, "username")
			delete(c, "preferred_username")
			c["sub"] = "s-1"
		}, "s-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, logs := newVerifier(t, iss.URL(), func(c *oidc.Config) { c.UsernameClaim = tc.claim })
			tok := sign(tc.edit)
			if tc.want == "" {
				expectRefusal(t, v, logs, tok, apierr.Unauthenticated, oidc.CodeNoUsername)
				if got := apierr.Status(func() error { _, err := v.Verify(t.Context(), tok); return err }()); got != http.StatusUnauthorized {
					t.Errorf("status = %d, want 401", got)
				}
				return
			}
			if id := mustVerify(t, v, tok); id.Username != tc.want {
				t.Errorf("Username = %q, want %q", id.Username, tc.want)
			}
		})
	}
}
