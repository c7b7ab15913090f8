package auth_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
)

// Figure 1 of BENCHMARKS.md (make bench): the decision for an API token
// whose answer is cached, against the least any implementation must do -
// one SHA-256 of the presented token and one map lookup - measured in the
// same run so that the ratio does not depend on the machine.

// BenchmarkDecision/cred=api-token/cache=hit is the whole decision core on a
// cache hit: credential extraction, shape check, SHA-256, cache lookup,
// expiry check, principal copy. The core runs on the real clock, as in
// production; the store is core_test.go's fakeTokens, read only once.
func BenchmarkDecision(b *testing.B) {
	b.Run("cred=api-token/cache=hit", func(b *testing.B) {
		core, tokens, h := hotCore(b)
		ctx := context.Background()
		reads := tokens.reads.Load()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := core.Authenticate(ctx, h); err != nil {
				b.Fatal(err)
			}
		}
		if got := tokens.reads.Load() - reads; got != 0 {
			b.Fatalf("cache hits read the store %d times, want 0", got)
		}
	})
	// The same on every core at once: the cache is behind a RWMutex, so
	// this shows whether readers contend.
	b.Run("cred=api-token/cache=hit/parallel", func(b *testing.B) {
		core, _, h := hotCore(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if _, err := core.Authenticate(ctx, h); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// hotCore returns a core with the cache on whose cache already holds the
// decision for the API token in h.
func hotCore(b *testing.B) (*auth.Core, *fakeTokens, http.Header) {
	b.Helper()
	plain, err := secret.Generate(nil)
	if err != nil {
		b.Fatal(err)
	}
	tokens := &fakeTokens{items: map[string]store.Token{}}
	tokens.put(store.Token{
		Hash: secret.Hash(plain), UUID: "5f0c3e0e-0d7c-4a57-9c43-6f1e2b7c9a10", Username: "bob",
		Groups: []string{"lisa-api-users", "team-x"}, Expiration: time.Now().Add(time.Hour).Unix(),
	})
	core := auth.NewCore(auth.Options{Tokens: tokens, Groups: groups, CacheTTL: time.Hour})
	h := hdr("Authorization", "Bearer "+plain)
	if _, err := core.Authenticate(context.Background(), h); err != nil { // fills the cache
		b.Fatalf("valid token refused: %v", err)
	}
	return core, tokens, h
}

// sink keeps the baseline's result alive.
var sink auth.Principal

// BenchmarkBaseline/op=sha256+map is the floor of figure 1: SHA-256 of the
// 128-character token and a lookup of the digest in a map holding a
// principal. No hex encoding, no locking, no copying: the least work that
// answers "which principal is this token?".
func BenchmarkBaseline(b *testing.B) {
	b.Run("op=sha256+map", func(b *testing.B) {
		tok, err := secret.Generate(nil)
		if err != nil {
			b.Fatal(err)
		}
		m := map[[sha256.Size]byte]auth.Principal{
			sha256.Sum256([]byte(tok)): {Username: "bob", Groups: []string{"lisa-api-users"}, AuthType: auth.AuthAPIToken},
		}
		b.ReportAllocs()
		for b.Loop() {
			p, ok := m[sha256.Sum256([]byte(tok))]
			if !ok {
				b.Fatal("baseline lookup missed")
			}
			sink = p
		}
	})
}
