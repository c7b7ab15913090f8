package bench_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/local/devoidc"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/oidc"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
)

var benchGroups = auth.Groups{Admin: "lisa-admins", User: "lisa-users", API: "lisa-api-users"}

// BenchmarkDecisionDynamoDB/cred=api-token/cache=miss is figure 2: the decision for
// an API token with the cache off, so every decision is one strongly
// consistent GetItem against DynamoDB Local over loopback. reads/op is
// counted by dynamotest.Counting and must be exactly 1.
func BenchmarkDecisionDynamoDB(b *testing.B) {
	b.Run("cred=api-token/cache=miss", func(b *testing.B) {
		client := dltest.Client(b)
		table := dltest.TokenTable(b, client)
		calls := dynamotest.NewCounting(client)
		st := dynamotest.New(calls, table)
		ctx := context.Background()
		plain, err := secret.Generate(nil)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		if err := st.Create(ctx, store.Token{
			Hash: secret.Hash(plain), UUID: uuid.NewString(), Username: "bench-user", CreatedBy: "bench",
			CreatedDate: now.Unix(), Expiration: now.Add(24 * time.Hour).Unix(), Name: "bench",
			Groups: []string{"lisa-api-users"},
		}); err != nil {
			b.Fatalf("create token: %v", err)
		}
		core := auth.NewCore(auth.Options{Tokens: st, Groups: benchGroups, CacheTTL: 0})
		h := http.Header{"Authorization": {"Bearer " + plain}}
		// Warm the connection and DynamoDB Local's JIT before timing.
		for range 200 {
			if _, err := core.Authenticate(ctx, h); err != nil {
				b.Fatalf("valid token refused: %v", err)
			}
		}
		before := calls.Counts()
		lat := make(latencies, 0, 1<<14)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			t0 := time.Now()
			if _, err := core.Authenticate(ctx, h); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		after := calls.Counts()
		for op, n := range after {
			if op != "GetItem" && n != before[op] {
				b.Errorf("decisions made %d %s calls, want none", n-before[op], op)
			}
		}
		b.ReportMetric(float64(after["GetItem"]-before["GetItem"])/float64(len(lat)), "reads/op")
		lat.report(b)
	})
}

// BenchmarkJWT is figure 3: for each key type, the decision core on a JWT
// with its decision cache off, so that every call verifies the token
// (op=decision: what the first call with a token costs), the same with the
// cache on as deployed (op=decision-cached: a token presented again within
// the TTL), oidc.Verify alone (op=verify), and the bare signature check of
// the same token (op=signature): SHA-256 of the signing input and the
// public-key verification, nothing else. Keys are cached: the verifier is
// warmed before timing, and the issuer's JWKS is never fetched again.
func BenchmarkJWT(b *testing.B) {
	for _, kt := range []devoidc.KeyType{devoidc.RS256, devoidc.ES256} {
		b.Run("alg="+string(kt), func(b *testing.B) { benchJWT(b, kt) })
	}
}

func benchJWT(b *testing.B, kt devoidc.KeyType) {
	const audience = "bench-client"
	iss, srv, err := devoidc.NewTestServer(devoidc.Options{Audience: audience, KeyType: kt})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	ctx := b.Context()
	v, err := oidc.New(ctx, oidc.Config{
		Issuer: iss.URL(), Audience: audience, GroupsClaim: "groups",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := v.Warm(ctx); err != nil {
		b.Fatalf("warm verifier: %v", err)
	}
	// A token as a real IdP issues it: a handful of groups, valid for an hour.
	raw, err := iss.Token("alice@example.com", []string{"lisa-users", "lisa-api-users", "team-research", "team-platform"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	core := auth.NewCore(auth.Options{JWT: v, Groups: benchGroups})
	cached := auth.NewCore(auth.Options{JWT: v, Groups: benchGroups, CacheTTL: time.Minute})
	h := http.Header{"Authorization": {"Bearer " + raw}}
	for _, c := range []*auth.Core{core, cached} {
		if p, err := c.Authenticate(ctx, h); err != nil || p.Username != "alice@example.com" {
			b.Fatalf("valid JWT: %+v, %v", p, err)
		}
	}
	jwksHits := iss.JWKSHits()

	for _, c := range []struct {
		op   string
		core *auth.Core
	}{{"decision", core}, {"decision-cached", cached}} {
		b.Run("op="+c.op, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.core.Authenticate(ctx, h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("op=verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=signature", func(b *testing.B) {
		verify := bareVerifier(b, iss, raw)
		b.ReportAllocs()
		for b.Loop() {
			if !verify() {
				b.Fatal("signature does not verify")
			}
		}
	})
	if n := iss.JWKSHits(); n != jwksHits {
		b.Errorf("the verifier fetched the JWKS %d more times while timed; keys were meant to be cached", n-jwksHits)
	}
}

// bareVerifier returns the least work that proves raw's signature: hash the
// signing input, verify with the public key. Parsing the token, decoding
// the signature and finding the key happen once, outside the timed loop.
func bareVerifier(b *testing.B, iss *devoidc.Issuer, raw string) func() bool {
	b.Helper()
	dot := strings.LastIndexByte(raw, '.')
	input := []byte(raw[:dot])
	sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub, ok := iss.PublicKey(iss.CurrentKID())
	if !ok {
		b.Fatal("issuer has no current key")
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return func() bool {
			sum := sha256.Sum256(input)
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil
		}
	case *ecdsa.PublicKey:
		// JWS carries r||s; crypto/ecdsa's primitive takes ASN.1.
		half := len(sig) / 2
		der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])})
		if err != nil {
			b.Fatal(err)
		}
		return func() bool {
			sum := sha256.Sum256(input)
			return ecdsa.VerifyASN1(k, sum[:], der)
		}
	}
	b.Fatalf("unexpected key type %T", pub)
	return nil
}
