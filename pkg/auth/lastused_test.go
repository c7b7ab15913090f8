package auth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store"
)

// touches records TouchLastUsed calls and can fail or block them.
type touches struct {
	mu    sync.Mutex
	calls []touch
	fail  error
	block chan struct{} // if set, every call waits for it or its context
}

type touch struct {
	hash string
	at   int64
}

func (w *touches) TouchLastUsed(ctx context.Context, hash string, at int64) error {
	w.mu.Lock()
	w.calls = append(w.calls, touch{hash, at})
	fail, block := w.fail, w.block
	w.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fail
}

func (w *touches) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.calls)
}

func lastUsedCore(f *fixture, w *touches, ttl, resolution time.Duration) *auth.Core {
	return auth.NewCore(auth.Options{
		Tokens: f.tokens, JWT: f.jwt, Groups: groups, CacheTTL: ttl, Now: f.clock.Now,
		Logger:   slog.New(slog.NewJSONHandler(f.logs, nil)),
		LastUsed: w, LastUsedResolution: resolution,
	})
}

// TestLastUsedOncePerResolution: the first allowed call writes, calls
// within the resolution do not (cache hits or not), the first call after
// it writes again, with the time of that call.
func TestLastUsedOncePerResolution(t *testing.T) {
	for _, ttl := range []time.Duration{0, 10 * time.Second} {
		f := newFixture(t, 0)
		w := &touches{}
		core := lastUsedCore(f, w, ttl, 5*time.Minute)
		call := func() {
			t.Helper()
			if _, err := core.Authenticate(context.Background(), hdr("Authorization", "Bearer "+f.secret)); err != nil {
				t.Fatal(err)
			}
		}
		start := f.clock.Now().Unix()
		call()
		for range 20 {
			f.clock.Add(10 * time.Second)
			call()
		}
		if n := w.count(); n != 1 {
			t.Fatalf("ttl %v: %d writes within the resolution, want 1", ttl, n)
		}
		f.clock.Add(2 * time.Minute) // 5m20s after the first call
		call()
		if n := w.count(); n != 2 {
			t.Fatalf("ttl %v: %d writes after the resolution, want 2", ttl, n)
		}
		want := []touch{{secret.Hash(f.secret), start}, {secret.Hash(f.secret), f.clock.Now().Unix()}}
		for i, c := range w.calls {
			if c != want[i] {
				t.Errorf("ttl %v: write %d = %+v, want %+v", ttl, i, c, want[i])
			}
		}
	}
}

// TestLastUsedOnlyForAllowedAPITokens: refusals (unknown, disabled,
// expired, malformed) and JWT calls write nothing.
func TestLastUsedOnlyForAllowedAPITokens(t *testing.T) {
	f := newFixture(t, 0)
	w := &touches{}
	core := lastUsedCore(f, w, 0, time.Minute)
	disabled, _ := secret.Generate(nil)
	f.tokens.put(store.Token{Hash: secret.Hash(disabled), UUID: "6f0c3e0e-0d7c-4a57-9c43-6f1e2b7c9a10", Username: "bob",
		Expiration: f.clock.Now().Add(time.Hour).Unix(), Disabled: true})
	unknown, _ := secret.Generate(nil)
	for _, cred := range []string{unknown, disabled, "aaa.bbb.ccc", "not-a-token"} {
		_, _ = core.Authenticate(context.Background(), hdr("Authorization", "Bearer "+cred))
	}
	if n := w.count(); n != 0 {
		t.Fatalf("%d writes for calls that were refused or not API tokens", n)
	}
}

// TestLastUsedConcurrentCallsWriteOnce: many calls with one token at once
// claim one write between them.
func TestLastUsedConcurrentCallsWriteOnce(t *testing.T) {
	f := newFixture(t, 0)
	w := &touches{}
	core := lastUsedCore(f, w, 10*time.Second, time.Minute)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := core.Authenticate(context.Background(), hdr("Authorization", "Bearer "+f.secret)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := w.count(); n != 1 {
		t.Fatalf("%d writes from 50 concurrent calls, want 1", n)
	}
}

// TestLastUsedFailureIsNotTheCallers: a failing or hanging write still
// lets the call through, bounded in time, and is logged without the
// secret.
func TestLastUsedFailureIsNotTheCallers(t *testing.T) {
	f := newFixture(t, 0)
	w := &touches{fail: errors.New("table unreachable")}
	core := lastUsedCore(f, w, 0, time.Minute)
	p, err := core.Authenticate(context.Background(), hdr("Authorization", "Bearer "+f.secret))
	if err != nil || p.Username != "bob" {
		t.Fatalf("call with a failing last-use write: %+v, %v", p, err)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "last use of a token not recorded") || strings.Contains(logs, f.secret) || strings.Contains(logs, secret.Hash(f.secret)) {
		t.Errorf("log of the failed write: %s", logs)
	}

	f2 := newFixture(t, 0)
	hang := &touches{block: make(chan struct{})}
	defer close(hang.block)
	core = lastUsedCore(f2, hang, 0, time.Minute)
	start := time.Now()
	if _, err := core.Authenticate(context.Background(), hdr("Authorization", "Bearer "+f2.secret)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a hanging last-use write held the call for %v", d)
	}
}

// TestDisabledTokenRefused: a disabled token is a 401 with its own reason,
// from the store and from the cache alike.
func TestDisabledTokenRefused(t *testing.T) {
	for _, ttl := range []time.Duration{0, 10 * time.Second} {
		f := newFixture(t, ttl)
		tok := f.tokens.items[secret.Hash(f.secret)]
		tok.Disabled = true
		f.tokens.put(tok)
		for range 2 {
			_, err := f.core.Authenticate(context.Background(), hdr("Authorization", "Bearer "+f.secret))
			if apierr.Status(err) != 401 || apierr.CodeOf(err) != "token_disabled" {
				t.Fatalf("ttl %v: disabled token: %v (%s), want 401 token_disabled", ttl, err, apierr.CodeOf(err))
			}
		}
		if !bytes.Contains(f.logs.Bytes(), []byte(`"reason":"token_disabled"`)) {
			t.Errorf("ttl %v: refusal not logged with its reason: %s", ttl, f.logs)
		}
	}
}
