package oidc_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/oidc"
)

// TestJWKSKeySelection runs against a hand-made issuer whose JWKS holds
// keys a real issuer may publish besides its signing keys.
func TestJWKSKeySelection(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String()
	store := jwkset.NewMemoryStorage()
	add := func(key any, kid string, use jwkset.USE, alg jwkset.ALG) {
		j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
			Marshal:  jwkset.JWKMarshalOptions{Private: true}, // lets the oct key be published
			Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: use, ALG: alg},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.KeyWrite(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	add(foreignEC().Public(), "sig-no-use", "", "")
	add(foreignEC().Public(), "enc-key", jwkset.UseEnc, "")
	add(foreignRSA().Public(), "rsa-rs256", jwkset.UseSig, jwkset.AlgRS256)
	add([]byte("0123456789abcdef0123456789abcdef"), "oct-key", jwkset.UseSig, "")
	set, err := store.JSONPrivate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": url, "jwks_uri": url + "/keys"})
		case "/keys":
			_, _ = w.Write(set)
		default:
			http.NotFound(w, r)
		}
	})
	srv.Start()
	t.Cleanup(srv.Close)
	v, logs := newVerifier(t, url, nil)
	claims := jwt.MapClaims{"iss": url, "aud": audience, "sub": "alice", "exp": t0.Add(time.Hour).Unix()}

	mustVerify(t, v, signForeign(t, jwt.SigningMethodES256, "sig-no-use", claims))
	mustVerify(t, v, signForeign(t, jwt.SigningMethodRS256, "rsa-rs256", claims))
	for _, tc := range []struct {
		name string
		tok  string
		code string
	}{
		{"key published for encryption", signForeign(t, jwt.SigningMethodES256, "enc-key", claims), oidc.CodeBadSignature},
		{"alg differs from the key's alg", signForeign(t, jwt.SigningMethodPS256, "rsa-rs256", claims), oidc.CodeBadSignature},
		{"symmetric key named by an asymmetric token", signForeign(t, jwt.SigningMethodRS256, "oct-key", claims), oidc.CodeBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectRefusal(t, v, logs, tc.tok, apierr.Unauthenticated, tc.code)
		})
	}
	t.Run("no kid: only asymmetric keys are tried", func(t *testing.T) {
		mustVerify(t, v, signForeign(t, jwt.SigningMethodES256, "", claims))
		hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
		s, _ := hs.SignedString([]byte("0123456789abcdef0123456789abcdef"))
		expectRefusal(t, v, logs, s, apierr.Unauthenticated, oidc.CodeAlgNotAllowed)
	})
}
