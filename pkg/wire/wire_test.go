package wire_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/wire"
)

// oneToken is a TokenReader holding the given secrets, counting reads.
type oneToken struct {
	hashes map[string]bool
	reads  int
}

func (o *oneToken) GetByHash(_ context.Context, hash string) (store.Token, error) {
	o.reads++
	if !o.hashes[hash] {
		return store.Token{}, store.ErrNotFound
	}
	return store.Token{Hash: hash, UUID: "u", Username: "bob", Expiration: time.Now().Add(time.Hour).Unix()}, nil
}

// TestCoresTakeTheConfiguredFormat: every core wire builds (the
// authorizer's and serve path's, and the token functions' fresh one)
// accepts what TOKEN_FORMAT names, and nothing else costs a read.
func TestCoresTakeTheConfiguredFormat(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	for _, format := range []string{"hex", "prefixed"} {
		cfg, err := config.Load(func(k string) string {
			return map[string]string{config.EnvTokenFormat: format, config.EnvTokenPrefix: "gw"}[k]
		})
		if err != nil {
			t.Fatal(err)
		}
		hexTok, err := secret.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		prefixed, err := secret.Format{Prefix: "gw"}.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		tokens := &oneToken{hashes: map[string]bool{secret.Hash(hexTok): true, secret.Hash(prefixed): true}}
		core, err := wire.Core(ctx, cfg, tokens, wire.CachedReads, logger)
		if err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]*auth.Core{"core": core, "fresh core": wire.FreshCore(cfg, tokens, logger)} {
			for _, tc := range []struct {
				cred string
				ok   bool
			}{{hexTok, true}, {prefixed, format == "prefixed"}, {prefixed[:len(prefixed)-1] + "x", false}} {
				before := tokens.reads
				_, err := c.Authenticate(ctx, map[string][]string{"Api-Key": {tc.cred}})
				if (err == nil) != tc.ok {
					t.Fatalf("%s, %s: %q: err = %v, want ok=%v", format, name, tc.cred, err, tc.ok)
				}
				var e *apierr.Error
				if !tc.ok && (!errors.As(err, &e) || e.Code != "malformed_token" || tokens.reads != before) {
					t.Fatalf("%s, %s: %q: err = %v after %d reads, want malformed_token and none", format, name, tc.cred, err, tokens.reads-before)
				}
			}
		}
	}
}

// TestUsage: no USAGE_TABLE_NAME is no usage store; with one, a store.
func TestUsage(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if u, err := wire.Usage(ctx, cfg); u != nil || err != nil {
		t.Fatalf("Usage without %s = %v, %v; want nil, nil", config.EnvUsageTableName, u, err)
	}
	t.Setenv("AWS_REGION", "us-east-1")
	cfg.UsageTableName = "lisa-LISAApiTokenUsageTable"
	if u, err := wire.Usage(ctx, cfg); u == nil || err != nil {
		t.Fatalf("Usage with a table = %v, %v; want a store", u, err)
	}
}
