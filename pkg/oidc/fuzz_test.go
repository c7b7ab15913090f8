package oidc_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/local/devoidc"
	"github.com/llmgw/apitokens/pkg/oidc"
)

// FuzzVerify feeds arbitrary strings to a verifier trusting a live issuer.
// Whatever the input, Verify must not panic, must answer with either an
// identity or an *apierr.Error refusal (never both), must accept nothing
// the issuer did not sign, and must not echo the input in its error.
// Seeds: the f.Add calls below (including a freshly issued valid token)
// and testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	iss, _ := startIssuer(f, devoidc.Options{KeyType: devoidc.ES256})
	v, _ := newVerifier(f, iss.URL(), func(c *oidc.Config) { c.RefreshUnknownKIDInterval = time.Hour })
	valid, err := iss.Token("fuzz-user", []string{"g1", "g2"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	seg := strings.Split(valid, ".")
	enc := base64.RawURLEncoding.EncodeToString
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, iss.Claims("fuzz-user", nil, time.Hour)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, s := range []string{
		valid,
		none,
		"",
		".",
		"..",
		"a.b.c",
		seg[0] + "." + seg[1] + ".",
		seg[0] + "." + seg[1] + "." + seg[2] + seg[2],
		seg[0] + "." + enc([]byte(`{"iss":1,"aud":[null],"exp":"x","groups":{"a":[1]}}`)) + "." + seg[2],
		enc([]byte(`{"alg":"HS256","kid":"`+iss.CurrentKID()+`"}`)) + "." + seg[1] + "." + seg[2],
		enc([]byte(`{"alg":"ES256","kid":["x"]}`)) + "." + seg[1] + "." + seg[2],
		enc([]byte(`{"alg":"ES256","kid":"unknown"}`)) + "." + seg[1] + "." + seg[2],
		enc([]byte(`{"alg":"ES256"}`)) + "." + seg[1] + "." + seg[2],
		strings.Repeat("a", 128),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := v.Verify(t.Context(), raw)
		if err == nil {
			if raw != valid {
				t.Fatalf("accepted input the issuer never signed: %q -> %+v", raw, id)
			}
			if id.Username != "fuzz-user" || len(id.Groups) != 2 {
				t.Fatalf("valid token gave identity %+v", id)
			}
			return
		}
		if id.Username != "" || id.Groups != nil || id.Subject != "" || id.ExpiresAt != 0 {
			t.Fatalf("refusal came with identity %+v", id)
		}
		var ae *apierr.Error
		if !errors.As(err, &ae) {
			t.Fatalf("error %v (%T) is not an *apierr.Error", err, err)
		}
		// The issuer is up, so every failure is a refusal, not an outage.
		if ae.Kind != apierr.Unauthenticated || ae.Code == "" {
			t.Fatalf("error %v: kind %v code %q, want Unauthenticated with a code", err, ae.Kind, ae.Code)
		}
		if len(raw) >= 16 && strings.Contains(err.Error(), raw) {
			t.Fatalf("error repeats the input: %v", err)
		}
		if !auth.LooksLikeJWT(raw) && ae.Code != oidc.CodeMalformed && ae.Code != oidc.CodeAlgNotAllowed {
			t.Fatalf("input that is not JWT-shaped got code %q", ae.Code)
		}
	})
}
